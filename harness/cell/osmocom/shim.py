"""The SCTP-to-TCP LD_PRELOAD library osmo-msc needs on a kernel without SCTP.

osmo-msc (every version with SGs) opens an SCTP listener for SGs at start and exits when the
kernel has no SCTP ("Starting SGs server failed"). SGs is unused in a GSM-only cell, so the
library turns that socket into TCP: socket(..., IPPROTO_SCTP) becomes a TCP socket,
SCTP_SOCKOPT_BINDX_ADD becomes bind() of the first address, every other SOL_SCTP option is
accepted and ignored. It is a test shim, preloaded into osmo-msc only, and built with gcc at
run time (cached by the hash of its source): a kernel with SCTP does not need it at all.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
from pathlib import Path

from harness.errors import HarnessSetupError

BUILD_TIMEOUT_S = 60.0
SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define SOL_SCTP_LEVEL 132
#define SCTP_SOCKOPT_BINDX_ADD 100

static int (*real_socket)(int, int, int);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);

int socket(int domain, int type, int protocol) {
    if (!real_socket) real_socket = dlsym(RTLD_NEXT, "socket");
    if (protocol == IPPROTO_SCTP) {
        type = SOCK_STREAM | (type & (SOCK_NONBLOCK | SOCK_CLOEXEC));
        protocol = IPPROTO_TCP;
    }
    return real_socket(domain, type, protocol);
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t length) {
    if (!real_setsockopt) real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
    if (level != SOL_SCTP_LEVEL) return real_setsockopt(fd, level, name, value, length);
    if (name == SCTP_SOCKOPT_BINDX_ADD && value && length >= sizeof(struct sockaddr_in)) {
        const struct sockaddr *address = value;
        socklen_t size = address->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                        : sizeof(struct sockaddr_in);
        int yes = 1;
        real_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        return bind(fd, address, size);
    }
    return 0;
}

int getsockopt(int fd, int level, int name, void *value, socklen_t *length) {
    if (!real_getsockopt) real_getsockopt = dlsym(RTLD_NEXT, "getsockopt");
    if (level != SOL_SCTP_LEVEL) return real_getsockopt(fd, level, name, value, length);
    if (value && length) memset(value, 0, *length);
    return 0;
}
"""


def kernel_has_sctp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


def build_shim(cache_dir: Path) -> Path:
    """The shared library, built once per source version into `cache_dir`."""
    digest = hashlib.sha256(SOURCE.encode()).hexdigest()[:16]
    library = cache_dir / f"hilsec-sctp-to-tcp-{digest}.so"
    if library.is_file():
        return library
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise HarnessSetupError(
            "osmo-msc needs SCTP, which this kernel lacks, and no C compiler is installed to build "
            "the SCTP-to-TCP shim; install gcc (Makefile APT_PACKAGES)"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    source = cache_dir / f"hilsec-sctp-to-tcp-{digest}.c"
    source.write_text(SOURCE)
    partial = library.with_suffix(".so.partial")
    try:
        done = subprocess.run(
            [compiler, "-shared", "-fPIC", "-O2", "-o", str(partial), str(source), "-ldl"],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:
        raise HarnessSetupError(f"building the SCTP shim failed: {err}") from err
    if done.returncode != 0:
        raise HarnessSetupError(f"building the SCTP shim failed: {done.stderr.strip()[-500:]}")
    partial.replace(library)
    return library
