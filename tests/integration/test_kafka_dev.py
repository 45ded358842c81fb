"""The local Kafka (fleetcrypt-kafka-dev) behaves like a broker for any client:
kcat produces, a librdkafka consumer group consumes, and consumption resumes
after a broker is taken down and brought back."""
import os
import subprocess
import threading
import time

from fclib import BIN_DIR, Proc, wait_until

BUILD_DIR = os.path.dirname(BIN_DIR)
CONSUME = os.path.join(BUILD_DIR, "tests", "fc_kafka_consume")


def kcat_produce(bootstrap, topic, lines, timeout=60, partition=None):
    data = "".join(f"{l}\n" for l in lines).encode()
    argv = ["kcat", "-b", bootstrap, "-P", "-t", topic, "-X", "message.timeout.ms=60000"]
    if partition is not None:
        argv += ["-p", str(partition)]
    subprocess.run(argv, input=data, check=True, timeout=timeout)


def partition_led_by(bootstrap, topic, broker):
    """A partition of topic whose leader is `broker`, from kcat's metadata."""
    meta = subprocess.run(["kcat", "-b", bootstrap, "-L", "-t", topic], capture_output=True,
                          text=True, check=True, timeout=30).stdout
    for line in meta.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "partition" and parts[2] == "leader" \
                and parts[3].rstrip(",") == str(broker):
            return int(parts[1].rstrip(","))
    raise AssertionError(f"no partition of {topic} led by broker {broker}:\n{meta}")


class Consumer:
    def __init__(self, world, bootstrap, topic, count, group="fc-test-group"):
        self.out = os.path.join(world, f"consumer-{group}.out")
        self.proc = Proc([CONSUME, "--brokers", bootstrap, "--topic", topic, "--group", group,
                          "--count", str(count), "--timeout-s", "120"], self.out)

    def lines(self):
        """Distinct messages seen (Kafka is at-least-once: a rebalance may
        deliver a message again, which is allowed; losing one is not)."""
        with open(self.out) as f:
            return sorted({l for l in f.read().splitlines() if l.startswith("m")})


def test_kcat_to_consumer_group_and_topics_listed(kafka_dev, world):
    meta = subprocess.run(["kcat", "-b", kafka_dev.bootstrap, "-L"], capture_output=True,
                          text=True, check=True, timeout=30).stdout
    for t in ("steps", "events", "dlq"):
        assert f'topic "fleetcrypt.{t}" with 6 partitions' in meta, meta
    assert "3 brokers" in meta
    c = Consumer(world, kafka_dev.bootstrap, "fleetcrypt.steps", 100000)
    try:
        kcat_produce(kafka_dev.bootstrap, "fleetcrypt.steps", [f"m{i}" for i in range(20)])
        wait_until(lambda: len(c.lines()) >= 20, 60, what="20 messages consumed")
        assert sorted(c.lines()) == sorted(f"m{i}" for i in range(20))
    finally:
        c.proc.stop()


def test_consumption_resumes_after_broker_down_and_up(kafka_dev, world):
    topic = "fleetcrypt.steps"
    c = Consumer(world, kafka_dev.bootstrap, topic, 100000, group="fc-resume")
    try:
        kcat_produce(kafka_dev.bootstrap, topic, [f"m{i}" for i in range(20)])
        wait_until(lambda: len(c.lines()) >= 20, 60, what="first 20 consumed")

        # 1) a broker goes down, leadership moves: the cluster stays writable
        assert kafka_dev.control("down 2").startswith("ok down 2")
        assert "2=down" in kafka_dev.control("status")
        kcat_produce(kafka_dev.bootstrap, topic, [f"m{i}" for i in range(20, 40)])
        wait_until(lambda: len(c.lines()) >= 40, 60, what="20 more consumed with broker 2 down")
        assert kafka_dev.control("up 2").startswith("ok up 2")

        # 2) a broker goes down WITHOUT moving its leaders: its partitions
        #    stall; once it is back the queued messages flow again
        p3 = partition_led_by(kafka_dev.bootstrap, topic, 3)
        assert kafka_dev.control("down 3 keep").startswith("ok down 3")
        t = threading.Thread(target=kcat_produce,
                             args=(kafka_dev.bootstrap, topic, [f"m{i}" for i in range(40, 60)]),
                             kwargs={"partition": p3})
        t.start()
        time.sleep(3)
        stalled = len(c.lines())
        assert stalled == 40, f"partition {p3} led by the down broker delivered {stalled - 40} messages"
        assert kafka_dev.control("up 3").startswith("ok up 3")
        t.join(90)
        wait_until(lambda: len(c.lines()) >= 60, 90, what="all 60 consumed after broker 3 came back")
        assert c.lines() == sorted(f"m{i}" for i in range(60))
    finally:
        c.proc.stop()


def test_control_channel_rejects_bad_commands(kafka_dev):
    assert kafka_dev.control("down 9").startswith("error")
    assert kafka_dev.control("frobnicate 1").startswith("error")
    assert kafka_dev.control("create-topic t.extra 3").startswith("ok")
    meta = subprocess.run(["kcat", "-b", kafka_dev.bootstrap, "-L", "-t", "t.extra"],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    assert "with 3 partitions" in meta


def test_sigterm_stops_cleanly(world):
    from fclib import KafkaDev
    k = KafkaDev(world).start()
    pid = k.proc.pid
    k.proc.p.send_signal(15)
    assert k.proc.p.wait(timeout=15) == 0
    assert not os.path.exists(k.info_path), "info file should be removed on clean stop"
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
