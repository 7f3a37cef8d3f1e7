# optout-sync middleware image. Three stages: the build needs TypeScript (a development dependency), the image
# carries only the compiled build and the production dependencies.
#   docker build -t optout-sync .
#   docker run --env-file .env -p 127.0.0.1:8080:8080 optout-sync
# The steps below are also run, outside Docker, by middleware/test/deploy/image-build.test.ts: keep each RUN a plain
# shell command and each COPY a plain path copy.

# --- build: every dependency, then the compiled build in dist/ ---
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY middleware/src middleware/src
RUN npm run build

# --- prod-deps: the production dependencies alone (no TypeScript, no test tools, no Salesforce CLI) ---
FROM node:22-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- the image ---
FROM node:22-bookworm-slim
ENV NODE_ENV=production
# Inside a container the loopback interface is unreachable from outside: the image listens on every interface, and
# what is exposed is decided where it runs (ports published, Service, NetworkPolicy).
ENV HTTP_HOST=0.0.0.0
ENV HTTP_PORT=8080
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json LICENSE ./
COPY middleware/bin middleware/bin
# The embedded PGlite store (only when DATABASE_URL is unset) needs a writable directory owned by the runtime user.
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 8080 8443
# /healthz answers while the process runs; readiness (/readyz: database, stream, AC) is for orchestrators to route by.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; `start` then drains (workers finish their current job, the
# leadership lease is released so another instance takes over at once) and exits 0. A second signal exits at once.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "middleware/bin/optout-sync.js"]
CMD ["start"]
