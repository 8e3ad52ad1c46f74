package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.sidecar.internal.TestSupport.FakeStager;
import io.steward.supervision.spi.AddonRecord;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * A stand-in agent for {@link AgentCrashTest}: the dispatcher in a JVM of its own, over a prepared
 * directory. {@code AgentMain ROOT apply|adopt ID} prints one {@code STATUS <state> <detail>} line, then
 * serves {@code status} and {@code remove} lines from stdin until stdin closes.
 */
public final class AgentMain {
    private AgentMain() {
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        String mode = args[1];
        String id = args[2];
        HostLayout layout = TestSupport.layout(root);
        FakeStager stager = new FakeStager(layout);
        TestSupport.register(stager, id, "1.0.0", Map.of("notify", "true"), false);
        SidecarDispatcher d = new SidecarDispatcher(layout, stager, TestSupport.config(TestSupport.fast()));
        AddonRecord record = TestSupport.record(layout, TestSupport.assignment(id, "1.0.0", "{}"));
        print(mode.equals("adopt") ? d.adopt(record) : d.apply(record));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            switch (line.trim()) {
                case "status" -> print(d.status(new AddonId(id)));
                case "remove" -> {
                    d.remove(new AddonId(id));
                    System.out.println("REMOVED");
                    System.out.flush();
                }
                default -> System.out.println("UNKNOWN " + line);
            }
        }
        d.deactivate();
    }

    private static void print(SupervisionStatus s) {
        System.out.println("STATUS " + s.state() + " " + s.detail());
        System.out.flush();
    }
}
