// The ActiveCampaign edge of the middleware: client, typed errors, request budgets and the opt-out actions.
export * from './activecampaign-client';
export * from './activecampaign-errors';
export { contactListStatus } from './activecampaign-schemas';
export * from './bulk-unsubscriber';
export * from './rate-limiter';
export * from './resubscribe-lists';
export * from './unsubscribe-from-all-lists';
