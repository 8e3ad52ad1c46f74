package io.steward.core.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.HostLayout;
import io.steward.supervision.InvalidDocumentException;
import io.steward.supervision.spi.AssignmentSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The desired set of a pass: the documents of the assignment sources merged (first source wins an id),
 * the local override ({@value #LOCAL_OVERRIDE} in the etc directory) applied on top, then split into what
 * is assigned and what is not (disabled, or held by an operator). No side effect but the warnings it adds.
 * Reconcile thread only.
 */
final class DesiredSet {
    static final String LOCAL_OVERRIDE = "assignments.local.json";

    /** What a pass works towards; {@code authoritative} when every source gave a document. */
    record Desired(String revision, Map<AddonId, Assignment> assigned, Map<AddonId, String> unassigned,
                   boolean authoritative) {
    }

    private final HostLayout layout;
    private final GsonAssignmentCodec codec;

    DesiredSet(HostLayout layout, GsonAssignmentCodec codec) {
        this.layout = layout;
        this.codec = codec;
    }

    /** {@code heldKind} is told the kind of every held add-on that is assigned. */
    Desired collect(List<AssignmentSource> current, Set<AddonId> holds, BiConsumer<AddonId, String> heldKind,
                    List<String> warnings) {
        boolean authoritative = !current.isEmpty();
        if (current.isEmpty()) {
            warnings.add("no assignment source is registered; nothing is removed until one is");
        }
        Map<AddonId, Assignment> all = new LinkedHashMap<>();
        List<String> revisions = new ArrayList<>();
        for (AssignmentSource source : current) {
            AssignmentSource.Snapshot snap;
            try {
                snap = source.snapshot();
            } catch (RuntimeException e) {
                warnings.add("an assignment source failed: " + e);
                authoritative = false;
                continue;
            }
            warnings.addAll(snap.warnings());
            snap.error().ifPresent(err -> warnings.add(snap.name() + ": " + err
                    + (snap.document().isPresent() ? "; its last valid document stays in effect" : "")));
            if (snap.document().isEmpty()) {
                authoritative = false;
                continue;
            }
            AssignmentDocument doc = snap.document().get();
            if (!doc.revision().isEmpty()) {
                revisions.add(doc.revision());
            }
            for (Assignment a : doc.addons()) {
                if (all.putIfAbsent(a.id(), a) != null) {
                    warnings.add(snap.name() + ": add-on " + a.id() + " is also assigned by another source; ignored here");
                }
            }
        }
        AssignmentDocument merged = applyOverride(new AssignmentDocument(String.join("+", revisions),
                new ArrayList<>(all.values())), warnings);
        Map<AddonId, Assignment> assigned = new LinkedHashMap<>();
        Map<AddonId, String> unassigned = new HashMap<>();
        for (Assignment a : merged.addons()) {
            if (holds.contains(a.id())) {
                heldKind.accept(a.id(), a.kind());
                unassigned.put(a.id(), "held disabled by an operator (steward:enable " + a.id() + " releases it)");
            } else if (!a.enabled()) {
                unassigned.put(a.id(), "disabled by its assignment");
            } else {
                assigned.put(a.id(), a);
            }
        }
        return new Desired(merged.revision(), assigned, unassigned, authoritative);
    }

    private AssignmentDocument applyOverride(AssignmentDocument doc, List<String> warnings) {
        Path file = layout.etc().resolve(LOCAL_OVERRIDE);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return doc;
        } catch (IOException e) {
            warnings.add("ignoring the local override " + file + ": cannot read it (" + e.getMessage() + ")");
            return doc;
        }
        try {
            AssignmentCodec.Parsed parsed = codec.applyOverride(doc, text);
            warnings.addAll(parsed.warnings());
            return parsed.document();
        } catch (InvalidDocumentException e) {
            warnings.add("ignoring the local override " + file + " in full: " + e.getMessage());
            return doc;
        }
    }
}
