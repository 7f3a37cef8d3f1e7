/**
 * @description Keeps Opt_Out_Source__c true to opt-outs made in Salesforce, and carries a converted Lead's opt-out
 * and sync fields to its Contact (see OptOutLeadTriggerHandler).
 */
trigger LeadOptOutSource on Lead(before insert, before update, after update) {
    OptOutLeadTriggerHandler.handle(Trigger.operationType, Trigger.new, Trigger.oldMap);
}
