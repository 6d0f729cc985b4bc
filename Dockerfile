# syntax=docker/dockerfile:1
# Taskwire: built with the dev dependencies, run with the production ones only, as `node`.
#   docker build -t taskwire .
#   docker run -p 8000:8000 -v taskwire-data:/data \
#     -e API_TOKEN=... -e TWILIO_AUTH_TOKEN=... -e TWILIO_ACCOUNT_SID=... \
#     -e DATABASE_URL=postgres://... taskwire
# `npm run verify:dist` runs the same steps without Docker.

# Node 24, the active LTS (package.json engines: 20.19+, 22.13+ or 24+; CI tests 20 and 24).
ARG NODE_VERSION=24.22

# --- build: compile TypeScript, then drop the dev dependencies ---------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; built below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build \
  && node scripts/prepare-pglite-template.mjs \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: production dependencies and dist/ only, not root ---------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The embedded database and local storage live in DATA_DIR when DATABASE_URL and a
# storage driver are not configured; mount a volume there to keep them.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Graceful stop on SIGTERM: in-flight webhooks are answered, running jobs finish or are
# handed back; a stop that outlasts 25 s exits 1 (Docker kills after 10 s by default:
# use `docker stop -t 30`).
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli/main.js", "serve"]
