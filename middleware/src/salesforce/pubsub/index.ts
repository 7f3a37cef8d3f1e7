// Pub/Sub API (gRPC) transport for the Salesforce event stream, beside the CometD one.
export { PubSubSubscriber, type PubSubSubscriberOptions } from './pubsub-subscriber';
export { decodeFieldBitmap, replayIdFromText, replayIdToText, toCometdShape } from './event-decoding';

/** Salesforce's Pub/Sub API endpoint (port 443 works too where 7443 is blocked). */
export const defaultPubSubEndpoint = 'api.pubsub.salesforce.com:7443';
