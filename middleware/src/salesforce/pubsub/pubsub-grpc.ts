// The gRPC side of the Pub/Sub API client: Salesforce's pubsub_api.proto (vendored beside this file, CC0) loaded
// with @grpc/proto-loader, TLS always, and the session in the documented metadata headers (accesstoken,
// instanceurl, tenantid) on every call.
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { z } from 'zod';
import type { SalesforceToken } from '../salesforce-auth';

export type ReplayPreset = 'LATEST' | 'EARLIEST' | 'CUSTOM';

export type FetchRequest = { topic_name?: string; replay_preset?: ReplayPreset; replay_id?: Buffer; num_requested: number };

const consumerEventSchema = z.object({
  event: z.object({ id: z.string(), schema_id: z.string().min(1, 'schema_id is empty'), payload: z.instanceof(Buffer) }),
  replay_id: z.instanceof(Buffer),
});

export const fetchResponseSchema = z.object({
  events: z.array(consumerEventSchema),
  latest_replay_id: z.instanceof(Buffer),
  rpc_id: z.string(),
  pending_num_requested: z.number().int(),
});
export type FetchResponse = z.infer<typeof fetchResponseSchema>;
export type ConsumerEvent = FetchResponse['events'][number];

const topicInfoSchema = z.object({ topic_name: z.string(), can_subscribe: z.boolean(), schema_id: z.string() });
const schemaInfoSchema = z.object({ schema_json: z.string().min(1), schema_id: z.string() });

type UnaryFn = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;
type PubSubStub = grpc.Client & {
  GetTopic: UnaryFn;
  GetSchema: UnaryFn;
  Subscribe: (metadata: grpc.Metadata) => grpc.ClientDuplexStream<FetchRequest, unknown>;
};

let packageDefinition: protoLoader.PackageDefinition | null = null;

function stubConstructor(): new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => PubSubStub {
  packageDefinition ??= protoLoader.loadSync(path.join(__dirname, 'pubsub_api.proto'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    eventbus: { v1: { PubSub: new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => PubSubStub } };
  };
  return loaded.eventbus.v1.PubSub;
}

export function sessionMetadata(token: SalesforceToken): grpc.Metadata {
  if (!token.organizationId) throw new Error('Pub/Sub API needs the org id (tenantid); the token response did not name it');
  const metadata = new grpc.Metadata();
  metadata.set('accesstoken', token.accessToken);
  metadata.set('instanceurl', token.instanceUrl);
  metadata.set('tenantid', token.organizationId);
  return metadata;
}

/** The Pub/Sub error code Salesforce puts in the trailers (`error-code`), if any. */
export function pubSubErrorCode(error: unknown): string | null {
  const metadata = (error as { metadata?: unknown }).metadata;
  if (!(metadata instanceof grpc.Metadata)) return null;
  const value = metadata.get('error-code')[0];
  return typeof value === 'string' ? value : null;
}

export function grpcStatusOf(error: unknown): grpc.status | null {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? (code as grpc.status) : null;
}

export class PubSubConnection {
  private readonly stub: PubSubStub;

  /** rootCertificatePem: trust this CA instead of the system's (a private endpoint or the local emulator). */
  /**
   * unaryDeadlineMs: GetTopic and GetSchema give up after this long (DEADLINE_EXCEEDED). Without a deadline a server
   * that accepts the call and never answers holds the stream's (re)connection, or its batch, forever.
   */
  constructor(endpoint: string, rootCertificatePem: string | null, private readonly unaryDeadlineMs = 30_000) {
    const Stub = stubConstructor();
    // An IP endpoint (a private one, the local emulator): TLS server names may not be IP addresses (RFC 6066, and
    // Node warns), so no name is sent and the certificate is checked against the IP itself.
    const host = endpoint.slice(0, endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    const ipHost = net.isIP(host) !== 0;
    const credentials = grpc.credentials.createSsl(
      rootCertificatePem ? Buffer.from(rootCertificatePem) : null,
      null,
      null,
      ipHost ? { checkServerIdentity: (_name, certificate) => tls.checkServerIdentity(host, certificate) } : {},
    );
    this.stub = new Stub(endpoint, credentials, {
      ...(ipHost ? { 'grpc.ssl_target_name_override': 'pubsub.invalid' } : {}),
      // HTTP/2 pings keep idle NAT and proxy paths open between the server's keepalive responses.
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.max_receive_message_length': 8 * 1024 * 1024,
    });
  }

  private unary<T>(method: UnaryFn, request: unknown, token: SalesforceToken, schema: z.ZodType<T>, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      method.call(this.stub, request, sessionMetadata(token), { deadline: Date.now() + this.unaryDeadlineMs }, (error, response) => {
        if (error) return reject(error);
        const parsed = schema.safeParse(response);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          reject(new Error(`${what} answer: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`));
          return;
        }
        resolve(parsed.data);
      });
    });
  }

  getTopic(topicName: string, token: SalesforceToken) {
    return this.unary(this.stub.GetTopic, { topic_name: topicName }, token, topicInfoSchema, 'GetTopic');
  }

  getSchema(schemaId: string, token: SalesforceToken) {
    return this.unary(this.stub.GetSchema, { schema_id: schemaId }, token, schemaInfoSchema, 'GetSchema');
  }

  subscribe(token: SalesforceToken): grpc.ClientDuplexStream<FetchRequest, unknown> {
    return this.stub.Subscribe(sessionMetadata(token));
  }

  close(): void {
    this.stub.close();
  }
}
