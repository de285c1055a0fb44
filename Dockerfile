# The HIVE API on the official Bun image. Dependencies are installed with npm from the
# committed package-lock.json (the lockfile this project keeps) in a throwaway Node stage,
# so the image gets exactly the tested versions; the runtime stage has only Bun.
FROM node:22-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# --ignore-scripts: the only install script is the `bun` package fetching its own binary,
# which this image does not need (it runs the image's Bun). Our own postinstall (the
# postgres.js patch in patches/, see README "PostgreSQL outages") is run explicitly.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npx --no-install patch-package

FROM oven/bun:1.4.5-slim
WORKDIR /app
# Production by default: the server refuses the development JWT secret and loads no demo
# data unless told to (docker-compose.yml sets both for the local demo).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bunfig.toml tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
USER bun
EXPOSE 8000
# Bun handles SIGTERM itself (src/index.ts): stop accepting, finish requests, close connections.
CMD ["bun", "src/index.ts"]
