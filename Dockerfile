# The broker image: Node 20 + pnpm, the workspace installed from the lockfile.
FROM node:20-bookworm-slim
WORKDIR /app
RUN npm install -g pnpm@12
COPY . .
RUN pnpm install --frozen-lockfile
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
EXPOSE 3000
USER node
CMD ["pnpm", "--filter", "@link-broker/broker", "start"]
