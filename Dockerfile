# gradient-service container image.
# Build: podman build --format docker -t gradient-service .   (or docker build -t gradient-service .)
# The docker format keeps HEALTHCHECK; the OCI image format has no field for it.
# Node.js 24 LTS (20 left maintenance on 2026-04-30).
ARG NODE_IMAGE=node:24-bookworm-slim

# All dependencies, dev included (tsc lives there); a layer of its own, so it is reused while the lockfile is
# unchanged.
FROM ${NODE_IMAGE} AS dev-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
# The lockfile names the client workspace (packages/client): npm ci needs its manifest, not its sources.
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund

FROM dev-deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only: the same tree with the dev packages pruned (no second download), in a stage
# of its own so the runtime image never sees dev packages or npm's cache.
FROM dev-deps AS prod-deps
# The client workspace's link (node_modules/@gradient-service/client -> packages/client) is not the server's and
# would dangle in the runtime image: dropped.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund && rm -rf node_modules/@gradient-service

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Numeric uid:gid (the base image's `node` user) so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 1000:1000
EXPOSE 8080
# Exec form throughout: no shell at runtime, and node is PID 1 so `stop` delivers SIGTERM to it directly.
# The official base's ENTRYPOINT is a shell script; clear it.
ENTRYPOINT []
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "dist/healthcheck.js"]
CMD ["node", "dist/server.js"]
