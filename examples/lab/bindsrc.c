/* LD_PRELOAD shim for the lab: binds every IPv4 socket to the source address in $LAB_SRC before
 * it connects, so that each simulated user and each attack tool keeps to its own loopback
 * address (127.0.1.x, 127.0.66.x) without the tool supporting a source address. It refuses to
 * connect anywhere outside 127.0.0.0/8: the lab sends no traffic off the machine.
 *
 *   gcc -shared -fPIC -O2 -o bindsrc.so bindsrc.c -ldl
 *   LD_PRELOAD=./bindsrc.so LAB_SRC=127.0.66.2 hydra ...
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static connect_fn real = NULL;
    if (!real) real = (connect_fn)dlsym(RTLD_NEXT, "connect");
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *to = (const struct sockaddr_in *)addr;
        if ((ntohl(to->sin_addr.s_addr) >> 24) != 127) {
            errno = ENETUNREACH; /* loopback only */
            return -1;
        }
        const char *src = getenv("LAB_SRC");
        struct sockaddr_in me;
        memset(&me, 0, sizeof me);
        me.sin_family = AF_INET;
        if (src && inet_pton(AF_INET, src, &me.sin_addr) == 1) {
            /* Already bound (a second connect on the socket, or the tool bound it): fine. */
            if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0 && errno != EINVAL) return -1;
        }
    } else if (addr && addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *to6 = (const struct sockaddr_in6 *)addr;
        if (!IN6_IS_ADDR_LOOPBACK(&to6->sin6_addr) && !IN6_IS_ADDR_V4MAPPED(&to6->sin6_addr)) {
            errno = ENETUNREACH;
            return -1;
        }
    }
    return real(fd, addr, len);
}
