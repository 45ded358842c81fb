/* fleetcrypt-kafka-dev — a standalone local Kafka for development and tests,
 * built on librdkafka's mock cluster (rdkafka_mock.h). N brokers listen on
 * loopback; the fleetcrypt topics are created with several partitions; any
 * Kafka client (kcat, librdkafka) produces and consumes through it, consumer
 * groups included. Messages live in memory only: a restart loses them (the
 * coordinator's reconciler re-drives anything in flight).
 *
 * A line-based control channel on loopback lets tests break the cluster:
 *   down ID            take broker ID down (leaders and group coordinators
 *                      move to another up broker first, so the cluster stays
 *                      writable, unless "down ID keep" is given)
 *   up ID              bring broker ID back
 *   leaders-away ID    move partition leadership off broker ID
 *   create-topic NAME PARTITIONS
 *   status             one line: brokers and their up/down state
 * Each command answers one line starting with "ok" or "error". */
#include "cfg.h"
#include "log.h"
#include "util.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BROKERS 16
#define MAX_TOPICS 64


typedef struct devcluster {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int brokers;
    bool up[MAX_BROKERS + 1];
    char topics[MAX_TOPICS][128];
    int partitions[MAX_TOPICS];
    int ntopics;
    char groups[8][128];
    int ngroups;
    int replication;
} devcluster;

static int pick_up_broker(const devcluster *dc, int avoid, int salt)
{
    for (int i = 0; i < dc->brokers; i++) {
        int id = 1 + (salt + i) % dc->brokers;
        if (id != avoid && dc->up[id]) return id;
    }
    return -1;
}

static bool create_topic(devcluster *dc, const char *name, int parts, char *err, size_t cap)
{
    if (dc->ntopics >= MAX_TOPICS) {
        snprintf(err, cap, "too many topics");
        return false;
    }
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(dc->mc, name, parts, dc->replication);
    if (e) {
        snprintf(err, cap, "%s", rd_kafka_err2str(e));
        return false;
    }
    fc_strlcpy(dc->topics[dc->ntopics], name, sizeof dc->topics[0]);
    dc->partitions[dc->ntopics] = parts;
    dc->ntopics++;
    /* Spread leaders round-robin so a broker going down matters. */
    for (int p = 0; p < parts; p++)
        rd_kafka_mock_partition_set_leader(dc->mc, name, p, 1 + p % dc->brokers);
    return true;
}

/* Move every partition led by `from` (and every known group coordinator)
 * to another up broker. The mock does not do this by itself on set_down. */
static int leaders_away(devcluster *dc, int from)
{
    int moved = 0;
    for (int t = 0; t < dc->ntopics; t++) {
        for (int p = 0; p < dc->partitions[t]; p++) {
            int to = pick_up_broker(dc, from, p);
            if (to < 0) return moved;
            /* We do not know the current leader cheaply: re-assign every
             * partition whose round-robin or moved leader could be `from`. */
            rd_kafka_mock_partition_set_leader(dc->mc, dc->topics[t], p, to);
            moved++;
        }
    }
    for (int g = 0; g < dc->ngroups; g++) {
        int to = pick_up_broker(dc, from, g);
        if (to > 0) rd_kafka_mock_coordinator_set(dc->mc, "group", dc->groups[g], to);
    }
    return moved;
}

static void handle_command(devcluster *dc, char *line, char *reply, size_t cap)
{
    char cmd[32] = "", arg1[128] = "", arg2[64] = "";
    int n = sscanf(line, "%31s %127s %63s", cmd, arg1, arg2);
    if (n < 1) {
        snprintf(reply, cap, "error empty command");
        return;
    }
    int id = atoi(arg1);
    if (!strcmp(cmd, "status")) {
        size_t off = (size_t)snprintf(reply, cap, "ok brokers=%d", dc->brokers);
        for (int i = 1; i <= dc->brokers && off < cap; i++)
            off += (size_t)snprintf(reply + off, cap - off, " %d=%s", i, dc->up[i] ? "up" : "down");
        return;
    }
    if (!strcmp(cmd, "create-topic") && n == 3) {
        char err[256];
        int parts = atoi(arg2);
        if (parts < 1 || parts > 256 || !create_topic(dc, arg1, parts, err, sizeof err))
            snprintf(reply, cap, "error cannot create topic %s", arg1);
        else
            snprintf(reply, cap, "ok created %s %d", arg1, parts);
        return;
    }
    if (n < 2 || id < 1 || id > dc->brokers) {
        snprintf(reply, cap, "error usage: down|up|leaders-away ID (1..%d), create-topic NAME N, status", dc->brokers);
        return;
    }
    if (!strcmp(cmd, "down")) {
        bool keep = n == 3 && !strcmp(arg2, "keep");
        dc->up[id] = false;
        int moved = keep ? 0 : leaders_away(dc, id);
        rd_kafka_mock_broker_set_down(dc->mc, id);
        log_info("broker down", "broker=%d moved_partitions=%d", id, moved);
        snprintf(reply, cap, "ok down %d moved=%d", id, moved);
    } else if (!strcmp(cmd, "up")) {
        rd_kafka_mock_broker_set_up(dc->mc, id);
        dc->up[id] = true;
        log_info("broker up", "broker=%d", id);
        snprintf(reply, cap, "ok up %d", id);
    } else if (!strcmp(cmd, "leaders-away")) {
        int moved = leaders_away(dc, id);
        snprintf(reply, cap, "ok moved=%d", moved);
    } else {
        snprintf(reply, cap, "error unknown command %s", cmd);
    }
}

static int listen_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

/* Serve one control connection: read lines until EOF, answer each. */
static void serve_client(devcluster *dc, int cfd)
{
    char buf[1024];
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {.fd = cfd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0) break;
        ssize_t r = read(cfd, buf + len, sizeof buf - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = 0;
            char reply[512];
            handle_command(dc, buf, reply, sizeof reply - 1);
            size_t rl = strlen(reply);
            reply[rl++] = '\n';
            if (write(cfd, reply, rl) < 0) return;
            size_t rest = len - (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, rest);
            len = rest;
            buf[len] = 0;
        }
        if (len >= sizeof buf - 1) break; /* line too long: drop the client */
    }
}

static void usage(FILE *f, void *ud)
{
    (void)ud;
    fprintf(f, "usage: fleetcrypt-kafka-dev [--brokers N] [--partitions P] [--topic-prefix X]\n"
               "                            [--info-file PATH] [--control-port PORT] [--group NAME]...\n"
               "Starts an in-memory Kafka cluster on loopback (librdkafka mock) and prints\n"
               "its bootstrap list. SIGTERM stops it.\n");
}

typedef struct kd_args {
    int brokers, partitions, control_port;
    const char *info_file;
    devcluster *dc;
} kd_args;

enum { KD_BROKERS = 256, KD_PARTITIONS, KD_INFO_FILE, KD_CONTROL_PORT, KD_GROUP };

static int kd_int(const char *flag, const char *v, int *out)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || n > 65535) {
        fprintf(stderr, "fleetcrypt-kafka-dev: --%s: expected a whole number, got '%.40s'\n", flag, v);
        return CFG_ARGS_BAD;
    }
    *out = (int)n;
    return CFG_ARGS_OK;
}

static int kd_opt(void *ud, int val, const char *v)
{
    kd_args *a = ud;
    switch (val) {
    case KD_BROKERS: return kd_int("brokers", v, &a->brokers);
    case KD_PARTITIONS: return kd_int("partitions", v, &a->partitions);
    case KD_CONTROL_PORT: return kd_int("control-port", v, &a->control_port);
    case KD_INFO_FILE: a->info_file = v; return CFG_ARGS_OK;
    case KD_GROUP:
        if (a->dc->ngroups < 8) fc_strlcpy(a->dc->groups[a->dc->ngroups++], v, sizeof a->dc->groups[0]);
        return CFG_ARGS_OK;
    }
    return CFG_ARGS_BAD;
}

int main(int argc, char **argv)
{
    devcluster dc;
    memset(&dc, 0, sizeof dc);
    log_init("kafka-dev");
    kd_args ka = {.brokers = 3, .partitions = 6, .dc = &dc};
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, KD_BROKERS},
        {"partitions", required_argument, NULL, KD_PARTITIONS},
        {"info-file", required_argument, NULL, KD_INFO_FILE},
        {"control-port", required_argument, NULL, KD_CONTROL_PORT},
        {"group", required_argument, NULL, KD_GROUP},
        {NULL, 0, NULL, 0},
    };
    const cfg_cmd cmd = {.prog = "fleetcrypt-kafka-dev", .bins = CFG_BIN_KAFKA_DEV, .opts = opts,
                         .on_opt = kd_opt, .ud = &ka, .help = usage};
    fc_config cfg;
    int prc = cfg_daemon_args(&cfg, &cmd, false, false, argc, argv);
    if (prc != CFG_ARGS_OK) return prc;
    const char *prefix = cfg.topic_prefix;
    int brokers = ka.brokers, partitions = ka.partitions, control_port = ka.control_port;
    const char *info_file = ka.info_file;
    if (brokers < 1 || brokers > MAX_BROKERS || partitions < 1 || partitions > 256) {
        fprintf(stderr, "fleetcrypt-kafka-dev: --brokers must be 1..%d and --partitions 1..256\n", MAX_BROKERS);
        return 2;
    }
    /* Known consumer groups whose coordinator moves with "down". */
    const char *suffixes[] = {"workers", "coordinator", "cli"};
    for (size_t s = 0; s < FC_ARRAY_LEN(suffixes) && dc.ngroups < 8; s++)
        snprintf(dc.groups[dc.ngroups++], sizeof dc.groups[0], "%s-%s", prefix, suffixes[s]);

    volatile sig_atomic_t *stop = fc_stop_flag();
    fc_stop_on_signals();

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    dc.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!dc.rk) {
        fprintf(stderr, "fleetcrypt-kafka-dev: %s\n", err);
        return 1;
    }
    dc.mc = rd_kafka_mock_cluster_new(dc.rk, brokers);
    if (!dc.mc) {
        fprintf(stderr, "fleetcrypt-kafka-dev: cannot create mock cluster\n");
        rd_kafka_destroy(dc.rk);
        return 1;
    }
    dc.brokers = brokers;
    dc.replication = brokers < 3 ? brokers : 3;
    for (int i = 1; i <= brokers; i++) dc.up[i] = true;
    for (int g = 0; g < dc.ngroups; g++)
        rd_kafka_mock_coordinator_set(dc.mc, "group", dc.groups[g], 1 + g % brokers);

    const char *topics[] = {"steps", "events", "dlq"};
    for (size_t t = 0; t < FC_ARRAY_LEN(topics); t++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", prefix, topics[t]);
        if (!create_topic(&dc, name, partitions, err, sizeof err)) {
            fprintf(stderr, "fleetcrypt-kafka-dev: create topic %s: %s\n", name, err);
            return 1;
        }
    }

    int lfd = listen_loopback(control_port);
    if (lfd < 0) {
        fprintf(stderr, "fleetcrypt-kafka-dev: cannot listen on control port %d: %s\n", control_port, strerror(errno));
        return 1;
    }
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(dc.mc);
    printf("%s\n", bootstrap);
    fflush(stdout);
    log_info("kafka-dev ready", "bootstrap=%s control_port=%d brokers=%d partitions=%d prefix=%s",
             bootstrap, bound_port(lfd), brokers, partitions, prefix);
    if (info_file) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s.tmp", info_file);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            fprintf(stderr, "fleetcrypt-kafka-dev: cannot write %s\n", tmp);
            return 1;
        }
        fprintf(f, "{\"bootstrap\": \"%s\", \"control_port\": %d, \"brokers\": %d, \"partitions\": %d, "
                   "\"topic_prefix\": \"%s\", \"pid\": %d}\n",
                bootstrap, bound_port(lfd), brokers, partitions, prefix, (int)getpid());
        fclose(f);
        rename(tmp, info_file);
    }

    while (!*stop) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int r = poll(&pfd, 1, 250);
        if (r > 0) {
            int cfd = accept(lfd, NULL, NULL);
            if (cfd >= 0) {
                serve_client(&dc, cfd);
                close(cfd);
            }
        }
    }
    log_info("kafka-dev stopping", "%s", "");
    close(lfd);
    rd_kafka_mock_cluster_destroy(dc.mc);
    rd_kafka_destroy(dc.rk);
    if (info_file) unlink(info_file);
    return 0;
}
