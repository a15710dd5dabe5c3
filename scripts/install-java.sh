#!/usr/bin/env bash
# Java 17 from Debian's packages for the Spark engine (recon run --engine spark; Spark 4 needs Java 17+).
# Idempotent: does nothing where a Java 17 or later already answers.
set -euo pipefail
version="$( (java -version 2>&1 || true) | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
if [ -n "$version" ] && [ "$version" -ge 17 ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
echo "install-java: installing openjdk-17-jre-headless from Debian's packages" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >&2
