/* fc_kafka_consume — test driver: a librdkafka consumer-group member that
 * prints each message value on its own line (flushed) until --count
 * messages arrived or --timeout-s passed. Exit 0 when the count was met.
 * Used to prove the dev broker works with consumer groups and survives a
 * broker going down. */
#include "log.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop = 0;
static void on_sig(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *group = "fc-test";
    long count = 1, timeout_s = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--brokers")) brokers = argv[i + 1];
        else if (!strcmp(argv[i], "--topic")) topic = argv[i + 1];
        else if (!strcmp(argv[i], "--group")) group = argv[i + 1];
        else if (!strcmp(argv[i], "--count")) count = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--timeout-s")) timeout_s = atol(argv[i + 1]);
    }
    if (!brokers || !topic) {
        fprintf(stderr, "usage: fc_kafka_consume --brokers B --topic T [--group G] [--count N] [--timeout-s S]\n");
        return 2;
    }
    signal(SIGTERM, on_sig);
    log_init("kafka-consume");
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err) ||
        rd_kafka_conf_set(conf, "session.timeout.ms", "6000", err, sizeof err) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err)) {
        fprintf(stderr, "config: %s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    long got = 0;
    time_t deadline = time(NULL) + timeout_s;
    while (!stop && got < count && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err) {
            printf("%.*s\n", (int)m->len, (const char *)m->payload);
            fflush(stdout);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got >= count ? 0 : 3;
}
