// The emulator's Pub/Sub API: a gRPC server over TLS beside CometD, fed by the same event bus.
import type { PlatformEventFieldTypes } from './avro-schemas';

export { PubSubEmulatorServer, encodeReplayId, maxOutstanding, pubSubErrorCodes } from './pubsub-server';
export { SchemaRegistry, changeEventSchema, platformEventSchema } from './avro-schemas';
export { encodeFieldBitmap, positionsToHex } from './event-encoding';

/** Types of the package's relay event fields (force-app objects/OptOut_Change__e), written out here. */
export const knownPlatformEventFieldTypes: Record<string, PlatformEventFieldTypes> = {
  OptOut_Change__e: { Opted_Out__c: 'boolean', Changed_At__c: 'datetime' },
};
