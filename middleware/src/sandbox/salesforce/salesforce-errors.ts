// REST errors in Salesforce's documented body shape: an array of {message, errorCode, fields?}
// ("Status Codes and Error Responses", REST API Developer Guide). Collections results use
// {statusCode, message, fields} per record instead ("sObject Collections", same guide).

export class SalesforceApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
    this.name = 'SalesforceApiError';
  }

  toBody(): Array<{ message: string; errorCode: string; fields?: string[] }> {
    return [{ message: this.message, errorCode: this.errorCode, ...(this.fields ? { fields: this.fields } : {}) }];
  }
}

export const invalidSession = (): SalesforceApiError =>
  new SalesforceApiError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');

export const notFound = (): SalesforceApiError =>
  new SalesforceApiError(404, 'NOT_FOUND', 'The requested resource does not exist');

/** The message SOQL gives for an unknown entity (INVALID_TYPE). */
export function invalidTypeMessage(type: string): string {
  return (
    `sObject type '${type}' is not supported. If you are attempting to use a custom object, be sure to append the ` +
    "'__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
  );
}

/** Messages Salesforce gives for record-level failures that tests inject (e.g. UNABLE_TO_LOCK_ROW). */
export function messageForStatusCode(code: string): string {
  switch (code) {
    case 'UNABLE_TO_LOCK_ROW':
      return 'unable to obtain exclusive access to this record or 1 records';
    case 'ENTITY_IS_DELETED':
      return 'entity is deleted';
    case 'REQUEST_LIMIT_EXCEEDED':
      return 'TotalRequests Limit exceeded.';
    case 'FIELD_CUSTOM_VALIDATION_EXCEPTION':
      return 'Validation rule failed';
    case 'CANNOT_UPDATE_CONVERTED_LEAD':
      return 'cannot reference converted lead';
    case 'INSUFFICIENT_ACCESS_OR_READONLY':
      return 'insufficient access rights on object id';
    default:
      return `${code.toLowerCase().replace(/_/g, ' ')}`;
  }
}
