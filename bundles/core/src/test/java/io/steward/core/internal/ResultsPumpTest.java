package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.ResultSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultsPumpTest {
    @TempDir
    Path root;

    @Test
    void everySpoolBuffersWithoutASinkAndFlowsToTheSinkThatAppearsAndItsProblemsAreWarnings() throws Exception {
        HostLayout layout = new HostLayout(root.resolve("data"), root.resolve("etc"), root.resolve("trust"),
                root.resolve("units"), root.resolve("priv"));
        AddonId timer = new AddonId("nightly");
        AddonId helper = new AddonId("probe");
        Files.createDirectories(layout.addonSpool(timer));
        Files.createDirectories(layout.addonSpool(helper));
        Files.createDirectories(layout.addonHome(new AddonId("service-without-spool")));
        Files.writeString(layout.addonSpool(timer).resolve("r1.jsonl"), "{\"ok\":1}\nnot json\n");
        Files.writeString(layout.addonSpool(helper).resolve("r1.jsonl"), "{\"ok\":2}\n");
        List<String> got = new CopyOnWriteArrayList<>();
        ResultSink sink = (addon, recordId, json) -> got.add(addon + " " + json);
        try (ResultsPump pump = new ResultsPump(layout, SpoolIngester.Limits.DEFAULT, 3_600_000)) {
            pump.passNow();
            assertEquals(List.of(), got);
            assertTrue(Files.exists(layout.addonSpool(timer).resolve("r1.jsonl")), "no sink: the spool keeps it");
            pump.sink(sink);
            pump.passNow();
            assertEquals(List.of("nightly {\"ok\":1}", "probe {\"ok\":2}"), got);
            assertEquals(List.of("add-on nightly: result spool: 1 malformed line (last: r1.jsonl line 2 is not "
                    + "valid JSON)"), pump.warnings());
            pump.sinkGone(sink);
            Files.writeString(layout.addonSpool(helper).resolve("r2.jsonl"), "{\"ok\":3}\n");
            pump.passNow();
            assertEquals(2, got.size());
        }
    }
}
