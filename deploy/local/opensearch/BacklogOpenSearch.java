// Starts one OpenSearch 2.x node in this JVM through the codelibs OpenSearchRunner (from Maven Central),
// for backlog's local stack. Run as a single-file source program:
//   java -cp "$(cat classpath.txt)" BacklogOpenSearch.java <basePath> <httpPort> <transportPort> <clusterName>
// Why a launcher of our own: the runner's own main() hides start failures (it exits 1 without a word)
// and only accepts HTTP ports up to 9299; here every failure is printed with its root cause and any
// port works. Settings keep the node on loopback and stop the disk watermark from making a developer's
// nearly full disk turn every index read-only.
import org.codelibs.opensearch.runner.OpenSearchRunner;

public class BacklogOpenSearch {
  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: BacklogOpenSearch <basePath> <httpPort> <transportPort> <clusterName>");
      System.exit(2);
    }
    final String basePath = args[0];
    final String httpPort = args[1];
    final String transportPort = args[2];
    final String clusterName = args[3];
    final OpenSearchRunner runner = new OpenSearchRunner();
    runner.setMaxHttpPort(-1);
    runner.onBuild((number, settings) -> {
      settings.put("http.port", httpPort);
      settings.put("transport.port", transportPort);
      settings.put("network.host", "127.0.0.1");
      settings.put("discovery.type", "single-node");
      settings.putList("node.roles", "cluster_manager", "data", "ingest");
      settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
      settings.put("action.destructive_requires_name", "false");
      settings.put("indices.query.bool.max_clause_count", "4096");
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        runner.close();
      } catch (Exception e) {
        System.err.println("backlog-opensearch: close failed: " + e);
      }
    }));
    try {
      runner.build("-basePath", basePath, "-numOfNode", "1", "-clusterName", clusterName);
    } catch (Throwable t) {
      Throwable root = t;
      while (root.getCause() != null) root = root.getCause();
      System.err.println("backlog-opensearch: FAILED to start: " + root);
      t.printStackTrace();
      System.exit(1);
    }
    System.out.println("backlog-opensearch: node started, http://127.0.0.1:" + httpPort);
    while (!runner.isClosed()) Thread.sleep(1000);
  }
}
