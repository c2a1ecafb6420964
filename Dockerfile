# syntax=docker/dockerfile:1
# keyward: a static, non-root image. Build it from the repository root:
#
#   docker build -t keyward --build-arg VERSION=v1.2.0 --build-arg REVISION=$(git rev-parse --short=12 HEAD) .
#   docker run -p 8080:8080 -v keyward-data:/data keyward
#
# The build stage runs deploy/build.sh, the same script CI runs.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION="" REVISION="" BUILD_TIME=""
RUN VERSION="$VERSION" REVISION="$REVISION" BUILD_TIME="$BUILD_TIME" deploy/build.sh /out/keyward \
    && mkdir -p /out/data

# distroless/static: CA certificates, tzdata and /etc/passwd, no shell; the
# nonroot user is 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyward /usr/local/bin/keyward
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV KEYWARD_ADDR=0.0.0.0:8080 \
    KEYWARD_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
# No curl in the image: the binary checks http://127.0.0.1:8080/healthz itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/keyward", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/keyward"]
CMD ["serve"]
