// The deployment files, checked offline: docker-compose.yml, the Kubernetes manifests and the TLS proxy examples
// are parsed and the keys an operator relies on are asserted (replicas, probes, disruption budget, secrets from a
// Secret, scrape annotations, only the webhook exposed). Where the tools are installed, they check too:
// `kubectl kustomize` renders the kustomization, `docker compose config` validates the compose file.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { configEntries } from '../../src/config/config-schema';
import { parseConfig } from '../../src/config/load-config';

const repoRoot = path.resolve(__dirname, '../../..');
const k8sDir = path.join(repoRoot, 'deploy/kubernetes');
const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');
const hasTool = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: unknown; data?: Record<string, string>; stringData?: Record<string, string> };

function manifests(file: string): Manifest[] {
  return parseAllDocuments(fs.readFileSync(path.join(k8sDir, file), 'utf8')).map((d) => d.toJS() as Manifest);
}

const probe = z.object({ httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }) });
const deploymentSchema = z.object({
  spec: z.object({
    replicas: z.number(),
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
    template: z.object({
      metadata: z.object({ labels: z.record(z.string(), z.string()), annotations: z.record(z.string(), z.string()) }),
      spec: z.object({
        terminationGracePeriodSeconds: z.number(),
        securityContext: z.object({ runAsNonRoot: z.literal(true) }),
        volumes: z.array(z.object({ name: z.string(), secret: z.object({ secretName: z.string(), items: z.array(z.object({ key: z.string(), path: z.string() })) }).optional() })),
        containers: z.array(
          z.object({
            ports: z.array(z.object({ name: z.string(), containerPort: z.number() })),
            envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string() }).optional(), secretRef: z.object({ name: z.string() }).optional() })),
            livenessProbe: probe,
            readinessProbe: probe,
            lifecycle: z.object({ preStop: z.unknown() }),
            securityContext: z.object({ allowPrivilegeEscalation: z.literal(false) }),
            volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })),
          }),
        ),
      }),
    }),
  }),
});

describe('Kubernetes manifests', () => {
  const kustomization = parse(fs.readFileSync(path.join(k8sDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const all = kustomization.resources.flatMap(manifests);
  const byKind = (kind: string) => all.filter((m) => m.kind === kind);
  const deployment = deploymentSchema.parse(byKind('Deployment')[0]);
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0]!;
  const configMap = byKind('ConfigMap')[0]!;
  const [secret, keySecret] = manifests('secret.example.yaml') as [Manifest, Manifest];

  test('when the kustomization is read, then every file it lists exists and the Secret stays out of it', () => {
    for (const file of kustomization.resources) expect(fs.existsSync(path.join(k8sDir, file))).toBe(true);
    expect(kustomization.resources).not.toContain('secret.example.yaml');
    expect(all.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Ingress', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service']);
  });

  test('when the Deployment is read, then it runs two replicas as non-root with liveness on /healthz and readiness on /readyz', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080 }, { name: 'webhook', containerPort: 8443 }]);
    // Longer than the drain after SIGTERM (a job in hand finishes; vendor calls time out after 30 s) plus preStop.
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(35);
  });

  test('when Prometheus discovers the pods, then the annotations point at /metrics on the private port', () => {
    expect(pod.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
  });

  test('when a node is drained, then the PodDisruptionBudget keeps one replica, selected by the pods\' labels', () => {
    const pdb = byKind('PodDisruptionBudget')[0]!.spec as { minAvailable: number; selector: { matchLabels: Record<string, string> } };
    expect(pdb.minAvailable).toBe(1);
    expect(pdb.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    for (const [k, v] of Object.entries(pdb.selector.matchLabels)) expect(pod.metadata.labels[k]).toBe(v);
  });

  test('when the configuration is assembled, then secrets come from the Secret, settings from the ConfigMap, and together they are a valid configuration', () => {
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }, { secretRef: { name: secret.metadata.name } }]);
    const secretNames = Object.keys(configEntries).filter((n) => 'secret' in configEntries[n as keyof typeof configEntries]);
    const inSecret = Object.keys(secret.stringData ?? {});
    const inConfigMap = Object.keys(configMap.data ?? {});
    for (const name of ['AC_API_TOKEN', 'ADMIN_TOKEN', 'WEBHOOK_SECRET', 'DATABASE_URL']) expect(inSecret).toContain(name);
    // No secret in the ConfigMap, and nothing there the middleware would not read.
    for (const name of inConfigMap) expect({ name, secret: secretNames.includes(name), known: name in configEntries || name === 'NODE_OPTIONS' }).toEqual({ name, secret: false, known: true });
    const env = { ...configMap.data, ...Object.fromEntries(Object.entries(secret.stringData ?? {}).filter(([k]) => k in configEntries)) };
    const config = parseConfig(env);
    expect(config.http.webhook).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(config.database.kind).toBe('postgres');
    expect(config.salesforce.auth.flow).toBe('jwt');
    // The private key is a file from its own Secret, at the path SF_PRIVATE_KEY_FILE names.
    const volume = pod.spec.volumes.find((v) => v.secret !== undefined)!;
    expect(volume.secret!.secretName).toBe(keySecret.metadata.name);
    const mount = container.volumeMounts.find((m) => m.name === volume.name)!;
    expect(path.posix.join(mount.mountPath, volume.secret!.items[0]!.path)).toBe(configMap.data!.SF_PRIVATE_KEY_FILE);
    expect(Object.keys(keySecret.stringData!)).toEqual([volume.secret!.items[0]!.key]);
  });

  test('when the Ingress is read, then only the webhook path is public, over TLS, to the webhook listener', () => {
    const ingress = byKind('Ingress')[0]!.spec as { tls: unknown[]; rules: { http: { paths: { path: string; backend: { service: { name: string; port: { name: string } } } }[] } }[] };
    expect(ingress.tls).toHaveLength(1);
    const paths = ingress.rules.flatMap((r) => r.http.paths);
    expect(paths.map((p) => p.path)).toEqual(['/webhooks/activecampaign/']);
    const service = byKind('Service').find((s) => s.metadata.name === paths[0]!.backend.service.name)!.spec as { ports: { name: string; targetPort: string }[] };
    expect(service.ports).toEqual([{ name: 'webhook', port: 8443, targetPort: 'webhook' }]);
  });

  test('when kubectl is installed, then `kubectl kustomize` renders the manifests with the image to deploy', () => {
    if (!hasTool('kubectl', ['version', '--client'])) return;
    const rendered = parseAllDocuments(execFileSync('kubectl', ['kustomize', k8sDir], { encoding: 'utf8' })).map((d) => d.toJS() as Manifest);
    expect(rendered).toHaveLength(all.length);
    expect(rendered.filter((m) => m.kind !== 'Namespace').every((m) => (m.metadata as { namespace?: string }).namespace === 'optout-sync')).toBe(true);
    expect(JSON.stringify(rendered)).toContain('"image":"registry.example.com/optout-sync:0.1.0"');
  });
});

describe('docker-compose.yml', () => {
  type Service = { image?: string; build?: string; profiles?: string[]; ports?: string[]; environment?: Record<string, string>; command?: string[]; depends_on?: unknown; healthcheck?: unknown; stop_grace_period?: string };
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
  const services = compose.services;

  test('when started without a profile, then PostgreSQL and two instances run, each only on the host loopback for the private port', () => {
    const always = Object.entries(services).filter(([, s]) => s.profiles === undefined).map(([n]) => n).sort();
    expect(always).toEqual(['optout-sync-1', 'optout-sync-2', 'postgres']);
    expect(services.postgres!.healthcheck).toBeDefined();
    for (const name of ['optout-sync-1', 'optout-sync-2']) {
      const s = services[name]!;
      expect(s.build).toBe('.');
      expect(s.environment).toMatchObject({ WEBHOOK_HTTP_PORT: '8443', WEBHOOK_HTTP_HOST: '0.0.0.0' });
      expect(s.environment!.DATABASE_URL).toMatch(/^postgres:\/\/optout:\$\{POSTGRES_PASSWORD:\?.*\}@postgres:5432\/optout$/);
      expect(s.ports!.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
      expect(s.stop_grace_period).toBe('30s');
    }
  });

  test('when the sandbox profile is used, then the sandbox listens where the host can reach it', () => {
    const sandbox = services.sandbox!;
    expect(sandbox.profiles).toEqual(['sandbox']);
    expect(sandbox.command).toEqual(expect.arrayContaining(['sandbox', '--host', '0.0.0.0']));
    expect(sandbox.ports).toEqual(['127.0.0.1:4400:4400', '127.0.0.1:4410:4410', '127.0.0.1:4420:4420']);
  });

  test('when the proxy profile is used, then only 80/443 are public and the Caddyfile forwards the webhook path alone to 8443', () => {
    expect(services.proxy!.profiles).toEqual(['proxy']);
    expect(services.proxy!.ports).toEqual(['80:80', '443:443']);
    const caddy = read('deploy/proxy/Caddyfile');
    expect(caddy.match(/handle \/[^\s]+/g)).toEqual(['handle /webhooks/activecampaign/*']);
    expect(caddy).toMatch(/reverse_proxy optout-sync-1:8443 optout-sync-2:8443/);
    expect(caddy).toMatch(/handle \{\s*respond 404\s*\}/);
    const nginx = read('deploy/proxy/nginx.conf');
    expect(nginx.match(/location [^\s]+/g)).toEqual(['location /webhooks/activecampaign/', 'location /']);
    expect(nginx).toMatch(/listen 443 ssl/);
    // A hostile sender on the internet: large bodies refused and slow ones cut off at the proxy, by both examples.
    expect(caddy).toMatch(/request_body \{\s*max_size 64KB\s*\}/);
    expect(caddy).toMatch(/timeouts \{\s*read_header 10s\s*read_body 10s\s*\}/);
    expect(nginx).toMatch(/client_max_body_size 64k;/);
    expect(nginx).toMatch(/client_header_timeout 10s;/);
    expect(nginx).toMatch(/client_body_timeout 10s;/);
  });

  test('when the docker compose plugin is installed, then `docker compose config` accepts the file', () => {
    if (!hasTool('docker', ['compose', 'version'])) return;
    execFileSync('docker', ['compose', '-f', path.join(repoRoot, 'docker-compose.yml'), '--profile', 'sandbox', '--profile', 'proxy', 'config', '-q'], { env: { ...process.env, POSTGRES_PASSWORD: 'x', PUBLIC_HOST: 'sync.example.com' } });
  });
});
