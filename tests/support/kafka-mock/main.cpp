// A Kafka cluster for tests: librdkafka's mock cluster (real wire protocol, in memory) on
// 127.0.0.1. Prints the bootstrap servers as the first line of stdout, then serves until killed.
//
// stdin takes one command per line so a test can stage outages without restarting the cluster
// (which would lose the topics). Flags and commands: `kafka-mock --help` and README.md.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct topic_spec {
  std::string name;
  int partitions = 3;
  int replicas = 1;
};

constexpr const char* usage_text =
    "usage: kafka-mock [--brokers N] [--topic NAME[:PARTITIONS[:REPLICAS]]]... [--exit-with-parent] [--help]\n"
    "\n"
    "A Kafka cluster for tests: librdkafka's mock cluster (the real Kafka wire protocol, in memory)\n"
    "with N brokers (default 3) on 127.0.0.1 ephemeral ports. The bootstrap servers are the first\n"
    "line of stdout; then it serves until SIGTERM/SIGINT (closing stdin does not stop it).\n"
    "\n"
    "  --brokers N               brokers, ids 1..N (default 3)\n"
    "  --topic NAME[:P[:R]]      create a topic with P partitions (default 3) and R replicas\n"
    "                            (default 1, at most N); repeatable\n"
    "  --exit-with-parent        exit when the process that started it dies\n"
    "  --help                    this text\n"
    "\n"
    "stdin, one command per line, each answered with \"ok\" or \"error: ...\" on stdout:\n"
    "  down ID                   broker ID disconnects and refuses connections (-1: all)\n"
    "  up ID                     broker ID accepts connections again (-1: all)\n"
    "  rtt ID MS                 broker ID answers MS milliseconds late\n"
    "  errors API_KEY CODE...    the next requests of that Kafka API fail with these error codes,\n"
    "                            in order (e.g. \"errors 0 19\": one Produce NOT_ENOUGH_REPLICAS)\n";

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "kafka-mock: " << why << "\n" << usage_text;
  std::exit(2);
}

topic_spec parse_topic(const std::string& arg) {
  topic_spec t;
  std::istringstream in(arg);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(in, part, ':')) parts.push_back(part);
  if (parts.empty() || parts[0].empty()) usage("empty topic name");
  t.name = parts[0];
  if (parts.size() > 1) t.partitions = std::atoi(parts[1].c_str());
  if (parts.size() > 2) t.replicas = std::atoi(parts[2].c_str());
  if (t.partitions < 1 || t.replicas < 1) usage("bad topic spec " + arg);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  std::vector<topic_spec> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      return 0;
    } else if (a == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
      if (brokers < 1) usage("--brokers must be at least 1");
    } else if (a == "--exit-with-parent") {
      // A crashed test must not leave a cluster behind.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() == 1) return 0;
    } else if (a == "--topic" && i + 1 < argc) {
      topics.push_back(parse_topic(argv[++i]));
    } else {
      usage("unknown argument " + a);
    }
  }

  // The mock cluster needs a client instance to own it; a producer that never produces will do.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) usage(errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) usage(std::string("rd_kafka_new: ") + errstr);
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) usage("cannot create the mock cluster");
  for (const auto& t : topics) {
    if (t.replicas > brokers) usage("topic " + t.name + " has more replicas than brokers");
    if (auto err = rd_kafka_mock_topic_create(mc, t.name.c_str(), t.partitions, t.replicas))
      usage("topic " + t.name + ": " + rd_kafka_err2str(err));
  }
  std::cout << rd_kafka_mock_cluster_bootstraps(mc) << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    int id = 0;
    in >> cmd >> id;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cmd == "down") {
      err = rd_kafka_mock_broker_set_down(mc, id);
    } else if (cmd == "up") {
      err = rd_kafka_mock_broker_set_up(mc, id);
    } else if (cmd == "rtt") {
      int ms = 0;
      in >> ms;
      err = rd_kafka_mock_broker_set_rtt(mc, id, ms);
    } else if (cmd == "errors") {
      // "errors API_KEY CODE [CODE...]": the next requests of that API (cluster-wide) fail with
      // these Kafka error codes, in order (e.g. "errors 0 19" = one Produce NOT_ENOUGH_REPLICAS).
      std::vector<rd_kafka_resp_err_t> codes;
      int code = 0;
      while (in >> code) codes.push_back(static_cast<rd_kafka_resp_err_t>(code));
      rd_kafka_mock_push_request_errors_array(mc, static_cast<int16_t>(id), codes.size(), codes.data());
    } else if (cmd.empty()) {
      continue;
    } else {
      std::cout << "error: unknown command " << cmd << std::endl;
      continue;
    }
    if (err) std::cout << "error: " << rd_kafka_err2str(err) << std::endl;
    else std::cout << "ok" << std::endl;
  }
  // stdin closed: keep serving until killed, as promised.
  for (;;) ::pause();
}
