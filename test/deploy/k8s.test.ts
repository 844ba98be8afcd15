// Offline validation of deploy/k8s against the Kubernetes API's OpenAPI schemas (kubernetes-models ships them
// compiled), plus the settings the schemas cannot require: the hardening, the probe paths, and that the
// Service, the PodDisruptionBudget and the autoscaler actually point at the Deployment's pods and port.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import {
  HorizontalPodAutoscaler,
  type IHorizontalPodAutoscaler,
} from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import {
  type IPodDisruptionBudget,
  PodDisruptionBudget,
} from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IContainerPort } from 'kubernetes-models/v1/ContainerPort';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { type IService, Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const K8S_DIR = join(import.meta.dirname, '../../deploy/k8s');
const DOCKERFILE = join(import.meta.dirname, '../../Dockerfile');

// One model class per kind we ship; anything else in deploy/k8s is a mistake the test should flag.
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

interface Manifest {
  file: string;
  object: { apiVersion?: string; kind?: string; metadata?: { name?: string } };
}

const manifestFiles = readdirSync(K8S_DIR)
  .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
  .sort();

const manifests: Manifest[] = manifestFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
    return { file, object: document.toJS() as Manifest['object'] };
  }),
);

function only<T>(apiVersion: string, kind: string): T {
  const found = manifests.filter((m) => m.object.apiVersion === apiVersion && m.object.kind === kind);
  expect(found, `exactly one ${apiVersion} ${kind}`).toHaveLength(1);
  return found[0].object as T;
}

const deployment = only<IDeployment>('apps/v1', 'Deployment');
const service = only<IService>('v1', 'Service');
const hpa = only<IHorizontalPodAutoscaler>('autoscaling/v2', 'HorizontalPodAutoscaler');
const pdb = only<IPodDisruptionBudget>('policy/v1', 'PodDisruptionBudget');
const podSpec = deployment.spec?.template.spec;
const podLabels = deployment.spec?.template.metadata?.labels ?? {};
const container = podSpec?.containers.find((c) => c.name === 'gradient-service') as IContainer;

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

// A probe's or Service's port may be a number or the name of a container port; both must land on a port
// the container declares.
function resolvePort(port: number | string | undefined): IContainerPort | undefined {
  return (container.ports ?? []).find((p) =>
    typeof port === 'string' ? p.name === port : p.containerPort === port,
  );
}

function probePath(probe: IProbe | undefined): { path?: string; port?: number } {
  return { path: probe?.httpGet?.path, port: resolvePort(probe?.httpGet?.port)?.containerPort };
}

// Kubernetes resource quantities: enough of the syntax for cpu (m) and memory (Ki..Gi, k..G) to compare.
function quantity(value: string | number | undefined): number {
  const match = /^([0-9.]+)(m|k|M|G|Ki|Mi|Gi)?$/.exec(String(value));
  if (!match) throw new Error(`unparsed quantity ${value}`);
  const scale: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
  };
  return Number(match[1]) * (match[2] ? scale[match[2]] : 1);
}

describe('deploy/k8s manifests', () => {
  it.each(manifests.map((m) => [`${m.file} ${m.object.kind}`, m] as const))(
    '%s validates against the Kubernetes API schema',
    (_label, manifest) => {
      const model = MODELS[`${manifest.object.apiVersion}/${manifest.object.kind}`];
      expect(model, `a known kind in ${manifest.file}`).toBeDefined();
      expect(() => new model(manifest.object as never).validate()).not.toThrow();
      expect(manifest.object.metadata?.name).toBe('gradient-service');
    },
  );

  it('the schema validation is live: a wrongly typed field is rejected', () => {
    const broken = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = '2';
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas/);
  });

  it('kustomization.yaml lists every manifest', () => {
    const kustomization = parseAllDocuments(
      readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8'),
    )[0].toJS();
    expect([...kustomization.resources].sort()).toEqual(manifestFiles);
  });

  it('the Deployment runs 2 replicas and selects its own pods', () => {
    expect(deployment.spec?.replicas).toBe(2);
    expect(selects(deployment.spec?.selector.matchLabels, podLabels)).toBe(true);
  });

  it('pod and container run as uid 1000, never root, with no way to gain privileges', () => {
    expect(podSpec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const security = container.securityContext;
    expect(security).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(security?.privileged ?? false).toBe(false);
    expect(security?.capabilities?.drop).toContain('ALL');
    expect(security?.capabilities?.add ?? []).toEqual([]);
  });

  it('the image agrees: its USER is the uid the pod runs as and it exposes the container port', () => {
    const dockerfile = readFileSync(DOCKERFILE, 'utf8');
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)?.split(':')[0]).toBe(String(container.securityContext?.runAsUser));
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE\\s+${resolvePort('http')?.containerPort}\\b`, 'm'));
  });

  it('the container listens on 8080 and is told so', () => {
    expect(resolvePort('http')?.containerPort).toBe(8080);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    expect(env.PORT).toBe('8080');
    expect(env.HOST).toBe('0.0.0.0');
  });

  it('liveness and startup probe /healthz, readiness probes /readyz, all on the container port', () => {
    expect(probePath(container.livenessProbe)).toEqual({ path: '/healthz', port: 8080 });
    expect(probePath(container.startupProbe)).toEqual({ path: '/healthz', port: 8080 });
    expect(probePath(container.readinessProbe)).toEqual({ path: '/readyz', port: 8080 });
  });

  it("the kubelet waits out the preStop pause and the server's drain before it kills", () => {
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    const drainSeconds = (Number(env.SHUTDOWN_DELAY_MS) + Number(env.SHUTDOWN_TIMEOUT_MS)) / 1000;
    const preStopSeconds = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(drainSeconds).toBeGreaterThan(0);
    // The preStop sleep is the pause between readiness and the listener closing: the server adds none of its
    // own (its default SHUTDOWN_DELAY_MS is for balancers without a preStop).
    expect(preStopSeconds).toBeGreaterThan(0);
    expect(env.SHUTDOWN_DELAY_MS).toBe('0');
    expect(podSpec?.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + drainSeconds);
  });

  it('requests and limits are set for cpu and memory, each request within its limit', () => {
    const { requests, limits } = container.resources ?? {};
    for (const resource of ['cpu', 'memory']) {
      expect(requests?.[resource], `requests.${resource}`).toBeDefined();
      expect(limits?.[resource], `limits.${resource}`).toBeDefined();
      expect(quantity(requests?.[resource])).toBeLessThanOrEqual(quantity(limits?.[resource]));
    }
  });

  it('the Service selects the pods and forwards port 80 to the container port', () => {
    expect(selects(service.spec?.selector, podLabels)).toBe(true);
    expect(service.spec?.ports).toHaveLength(1);
    const [port] = service.spec?.ports ?? [];
    expect(port.port).toBe(80);
    expect(resolvePort(port.targetPort)?.containerPort).toBe(8080);
  });

  it('the autoscaler scales this Deployment on CPU, never below its replica count', () => {
    expect(hpa.spec?.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata?.name,
    });
    const cpu = hpa.spec?.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
    expect(cpu?.resource?.target.type).toBe('Utilization');
    expect(cpu?.resource?.target.averageUtilization).toBeGreaterThan(0);
    expect(hpa.spec?.minReplicas).toBe(deployment.spec?.replicas);
    expect(hpa.spec?.maxReplicas).toBeGreaterThan(hpa.spec?.minReplicas ?? 1);
  });

  it('the disruption budget covers the pods and still lets a node drain', () => {
    expect(selects(pdb.spec?.selector?.matchLabels, podLabels)).toBe(true);
    const minAvailable = pdb.spec?.minAvailable;
    expect(typeof minAvailable).toBe('number');
    expect(minAvailable).toBeGreaterThanOrEqual(1);
    expect(minAvailable).toBeLessThan(deployment.spec?.replicas ?? 0);
  });
});
