package io.steward.deploy.internal;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.deploy.QuarantinedJar;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Moves a refused jar to {@code deploy/.quarantine/<name>.<UTC time>} (a rename in the same folder: the bytes are
 * kept for the operator, FileInstall no longer sees them) and records it, one JSON line per jar, in
 * {@code <data>/state/deploy-quarantine.jsonl}, which {@code steward:kinds} and {@code status} read.
 */
final class Quarantine {
    static final String DIR = ".quarantine";
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
            .withZone(ZoneOffset.UTC);

    private final Path deploy;
    private final Path record;
    private final Clock clock;
    private final Set<Path> moved = ConcurrentHashMap.newKeySet();

    Quarantine(Path deploy, Path state, Clock clock) {
        this.deploy = deploy;
        this.record = state.resolve("deploy-quarantine.jsonl");
        this.clock = clock;
    }

    /** Moves {@code jar} away and records why; the record says where it went. */
    QuarantinedJar move(Path jar, String reason) throws IOException {
        Instant now = clock.instant();
        Path dir = deploy.resolve(DIR);
        Files.createDirectories(dir);
        String base = jar.getFileName() + "." + STAMP.format(now);
        Path target = dir.resolve(base);
        for (int i = 2; Files.exists(target, LinkOption.NOFOLLOW_LINKS); i++) {
            target = dir.resolve(base + "-" + i);
        }
        moved.add(jar);
        try {
            Files.move(jar, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            moved.remove(jar);
            throw e;
        }
        QuarantinedJar q = new QuarantinedJar(jar.getFileName().toString(), deploy.relativize(target).toString(),
                reason, now);
        append(q);
        return q;
    }

    /** True once for a jar this class moved away: its disappearance is not an uninstall. */
    boolean consumeMoved(Path jar) {
        return moved.remove(jar);
    }

    private void append(QuarantinedJar q) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("jar", q.jar());
        o.addProperty("moved_to", q.movedTo());
        o.addProperty("reason", q.reason());
        o.addProperty("at", q.at().toString());
        Files.createDirectories(record.getParent());
        Files.writeString(record, o + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    /** Every recorded quarantine, oldest first; a damaged line is skipped. */
    static List<QuarantinedJar> read(Path state) {
        Path file = state.resolve("deploy-quarantine.jsonl");
        List<QuarantinedJar> out = new ArrayList<>();
        if (!Files.isRegularFile(file)) {
            return out;
        }
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                try {
                    JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                    out.add(new QuarantinedJar(o.get("jar").getAsString(), o.get("moved_to").getAsString(),
                            o.get("reason").getAsString(), Instant.parse(o.get("at").getAsString())));
                } catch (RuntimeException e) {
                    // a torn or edited line: the others still count
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }
}
