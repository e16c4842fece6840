// The floor under every commit round of a cluster on one machine: a bare TCP round trip between two processes on
// loopback (no TLS, no runtime, TCP_NODELAY), SIZE bytes one way and 64 back, ROUNDS times; prints the p50 and p90.
// Run it once as is and once under `taskset -c 0` to see what waking a process on the other CPU costs on this host
// (docs/benchmarks.md, "What one round trip costs on this machine").
//   gcc -O2 -o /tmp/loopback-rtt load/loopback-rtt.c && /tmp/loopback-rtt 20000 4500
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *x, const void *y) {
    double d = *(const double *)x - *(const double *)y;
    return d < 0 ? -1 : d > 0;
}

// Reads exactly n bytes; 0 at end of stream or on an error.
static int read_all(int fd, char *buf, int n) {
    for (int got = 0; got < n;) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0) return 0;
        got += (int)r;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s ROUNDS SIZE\n", argv[0]); return 2; }
    int rounds = atoi(argv[1]), size = atoi(argv[2]), one = 1;
    if (rounds < 1 || rounds > 1000000 || size < 64 || size > (1 << 20)) { fprintf(stderr, "ROUNDS 1..1000000, SIZE 64..1048576\n"); return 2; }
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1) || getsockname(listener, (struct sockaddr *)&addr, &len)) { perror("listen"); return 1; }
    char *buf = calloc(1, size);
    pid_t child = fork();
    if (child == 0) {
        int s = accept(listener, 0, 0);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (int i = 0; i < rounds && read_all(s, buf, size); i++) send(s, buf, 64, 0);
        return 0;
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&addr, sizeof addr)) { perror("connect"); return 1; }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double *took = malloc(rounds * sizeof(double));
    for (int i = 0; i < rounds; i++) {
        double t = now_us();
        send(c, buf, size, 0);
        if (!read_all(c, buf, 64)) { fprintf(stderr, "peer gone\n"); return 1; }
        took[i] = now_us() - t;
    }
    close(c);
    waitpid(child, 0, 0);
    qsort(took, rounds, sizeof(double), by_value);
    printf("%d rounds of %d bytes: p50 %.1f us, p90 %.1f us\n", rounds, size, took[rounds / 2], took[rounds * 9 / 10]);
    return 0;
}
