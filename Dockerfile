# ranvier in a container. Build:   docker build -t ranvier .
# First run (creates /data/ranvier.yaml and /data/matrix_key.pem if missing):
#   docker run -d --name ranvier -v ranvier-data:/data -p 8008:8008 \
#       -e RANVIER_SERVER_NAME=example.org ranvier
# Create an account:
#   docker exec -it ranvier ranvier create-account --config /data/ranvier.yaml \
#       --username alice --admin
FROM python:3.11-slim

RUN useradd --system --create-home --home-dir /data ranvier
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ranvier ./ranvier
RUN pip install --no-cache-dir . && rm -rf /src

COPY docs/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER ranvier
WORKDIR /data
VOLUME /data
EXPOSE 8008
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
