// Starts one Elasticsearch 8 node in this JVM from the Maven Central jars, for backlog's local stack.
// Run as a single-file source program with the home's lib/ as the class path:
//   java -cp '<home>/lib/*' BacklogElasticsearch.java <home>
// libs/platform/stack/src/elasticsearch8.ts writes the home first: lib/ (the server jars),
// modules/<name>/ (a module's jars plus a plugin-descriptor.properties it writes), config/elasticsearch.yml
// (ports, loopback, single-node) and config/log4j2.properties.
//
// Why not Elasticsearch's own entry point (org.elasticsearch.bootstrap.Elasticsearch): it expects the
// server CLI of the distribution, which is not on Central, to hand it its arguments on stdin; it then
// attaches the entitlement agent (lib/entitlement-agent, also not on Central), and refuses to run as
// root, which is what CI runs as. Here the node is built the way that entry point's last phase builds
// it (environment, logging, modules, Node) without those three; what is skipped is the sandbox of a
// production install, not anything a request sees. docs/adr/0017-elasticsearch-8-local-node.md has
// the details and what is missing.
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.elasticsearch.Build;
import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

public class BacklogElasticsearch {
  private static volatile Node node;
  private static final CountDownLatch stopped = new CountDownLatch(1);

  public static void main(String[] args) {
    if (args.length != 1) {
      System.err.println("usage: BacklogElasticsearch <home>");
      System.exit(2);
    }
    final Path home = Path.of(args[0]).toAbsolutePath().normalize();
    try {
      LogConfigurator.registerErrorListener();
      final Environment env = InternalSettingsPreparer.prepareEnvironment(
          Settings.builder().put(Environment.PATH_HOME_SETTING.getKey(), home.toString()).build(),
          Map.of(),
          home.resolve("config"),
          () -> "backlog-es8");
      LogConfigurator.setClusterName(ClusterName.CLUSTER_NAME_SETTING.get(env.settings()).value());
      LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
      LogConfigurator.configure(env, true);
      // Modules load as plain (non-modular) bundles: the server runs from the class path here, not as
      // the Java module the distribution's launcher makes of it, so there are no server exports to add.
      final PluginsLoader modules = PluginsLoader.createPluginsLoader(
          PluginsLoader.loadModulesBundles(env.modulesDir()),
          PluginsLoader.loadPluginsBundles(env.pluginsDir()),
          Map.of(),
          false);
      Runtime.getRuntime().addShutdownHook(new Thread(BacklogElasticsearch::stop, "backlog-es8-shutdown"));
      node = new Node(env, modules);
      node.start();
    } catch (Throwable t) {
      Throwable root = t;
      while (root.getCause() != null && root.getCause() != root) root = root.getCause();
      t.printStackTrace();
      // Last, so that the tail of the log that the stack's error quotes ends with the cause.
      System.err.println("backlog-elasticsearch8: FAILED to start: " + t + (root != t ? " (cause: " + root + ")" : ""));
      System.exit(1);
    }
    System.out.println("backlog-elasticsearch8: node started, Elasticsearch " + Build.current().qualifiedVersion()
        + " on Java " + Runtime.version());
    try {
      stopped.await(); // the node's threads are daemons: keep the JVM alive until SIGTERM
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // SIGTERM: stop taking requests, close the node (flushes shards), then stop logging (log4j's own
  // shutdown hook is off, so that this hook can still log).
  private static void stop() {
    final Node n = node;
    try {
      if (n != null) {
        n.prepareForClose();
        n.close();
        if (!n.awaitClose(10, TimeUnit.SECONDS)) System.err.println("backlog-elasticsearch8: node did not close within 10 s");
      }
    } catch (Exception e) {
      System.err.println("backlog-elasticsearch8: close failed: " + e);
    } finally {
      LogManager.shutdown();
      stopped.countDown();
    }
  }
}
