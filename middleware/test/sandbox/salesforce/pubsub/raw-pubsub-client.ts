// A bare gRPC client of the vendored proto for contract tests: no reconnect, no decoding help, so the tests see
// exactly what the emulator sends.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export type RawFetchResponse = {
  events: { event: { id: string; schema_id: string; payload: Buffer }; replay_id: Buffer }[];
  latest_replay_id: Buffer;
  rpc_id: string;
  pending_num_requested: number;
};

type Unary<Req, Res> = (request: Req, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: Res) => void) => void;

export type RawPubSubClient = grpc.Client & {
  GetTopic: Unary<{ topic_name: string }, { topic_name: string; tenant_guid: string; can_publish: boolean; can_subscribe: boolean; schema_id: string }>;
  GetSchema: Unary<{ schema_id: string }, { schema_json: string; schema_id: string }>;
  Publish: Unary<
    { topic_name: string; events: { id: string; schema_id: string; payload: Buffer }[] },
    { results: { replay_id: Buffer; error: { code: string; msg: string } | null; correlation_key: string }[]; schema_id: string }
  >;
  Subscribe: (metadata: grpc.Metadata) => grpc.ClientDuplexStream<Record<string, unknown>, RawFetchResponse>;
};

export function rawPubSubClient(endpoint: string, caPem: string | null): RawPubSubClient {
  const definition = protoLoader.loadSync(
    path.join(__dirname, '../../../../src/sandbox/salesforce/pubsub/pubsub_api.proto'),
    { keepCase: true, longs: String, enums: String, defaults: true },
  );
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    eventbus: { v1: { PubSub: new (address: string, credentials: grpc.ChannelCredentials) => RawPubSubClient } };
  };
  const credentials = grpc.credentials.createSsl(caPem === null ? null : Buffer.from(caPem));
  return new loaded.eventbus.v1.PubSub(endpoint, credentials);
}

export function authMetadata(token: string, instanceUrl: string, tenantId: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('accesstoken', token);
  metadata.set('instanceurl', instanceUrl);
  metadata.set('tenantid', tenantId);
  return metadata;
}

export function unary<Req, Res>(fn: Unary<Req, Res>, client: RawPubSubClient, request: Req, metadata: grpc.Metadata): Promise<Res> {
  return new Promise((resolve, reject) => fn.call(client, request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
}

/** Collects a Subscribe stream's responses and its final status. */
export function collect(stream: grpc.ClientDuplexStream<Record<string, unknown>, RawFetchResponse>) {
  const responses: RawFetchResponse[] = [];
  let error: grpc.ServiceError | null = null;
  stream.on('data', (r: RawFetchResponse) => responses.push(r));
  stream.on('error', (e: grpc.ServiceError) => (error = e));
  return {
    responses,
    events: () => responses.flatMap((r) => r.events),
    error: () => error,
  };
}
