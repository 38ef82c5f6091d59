// Creates the topics that do not exist yet, in one admin call (a JVM start per topic with the
// distribution's kafka-topics would cost seconds each). Run by kafka.sh as a single-file program:
//   java -cp 'libs/*' CreateTopics.java <bootstrap> <partitions> <topic>...
// Prints one line per topic created; exits non-zero on any failure but "already exists".
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopics {
  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: CreateTopics <bootstrap> <partitions> <topic>...");
      System.exit(2);
    }
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
    int partitions = Integer.parseInt(args[1]);
    try (Admin admin = Admin.create(props)) {
      Set<String> existing = admin.listTopics().names().get(60, TimeUnit.SECONDS);
      List<NewTopic> missing = new ArrayList<>();
      for (int i = 2; i < args.length; i++) {
        if (!existing.contains(args[i])) missing.add(new NewTopic(args[i], partitions, (short) 1));
      }
      int failures = 0;
      var results = admin.createTopics(missing).values();
      for (NewTopic t : missing) {
        try {
          results.get(t.name()).get(60, TimeUnit.SECONDS);
          System.out.println("created topic " + t.name() + " (" + partitions + " partitions, replication 1)");
        } catch (ExecutionException e) {
          if (e.getCause() instanceof TopicExistsException) continue;
          System.err.println("creating topic " + t.name() + " failed: " + e.getCause());
          failures++;
        }
      }
      if (missing.isEmpty()) System.out.println("all " + (args.length - 2) + " topics present");
      System.exit(failures == 0 ? 0 : 1);
    }
  }
}
