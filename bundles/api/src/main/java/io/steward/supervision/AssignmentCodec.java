package io.steward.supervision;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Parses and validates assignment documents and applies the local override (PRODUCT §2).
 * Provided by {@code core}; thread-safe and stateless.
 */
@ProviderType
public interface AssignmentCodec {

    /** A parsed document and the warnings (unknown fields in lenient mode) it produced. */
    record Parsed(AssignmentDocument document, List<String> warnings) {
        public Parsed {
            java.util.Objects.requireNonNull(document, "document");
            warnings = List.copyOf(warnings);
        }
    }

    /**
     * Parses a document.
     *
     * @param json   the document text
     * @param strict whether unknown fields are errors (true) or warnings (false)
     * @throws InvalidDocumentException naming the first offending field by JSON path
     */
    Parsed parse(String json, boolean strict) throws InvalidDocumentException;

    /**
     * Applies a local override file to a document: an entry whose id is assigned patches only the
     * fields it sets ({@code enabled} absent means inherit); an entry with a new id is appended
     * and must be complete.
     *
     * @throws InvalidDocumentException if the override is malformed; callers then ignore it in full
     */
    Parsed applyOverride(AssignmentDocument document, String overrideJson) throws InvalidDocumentException;

    /** A stable fingerprint (SHA-256 hex) of everything in an assignment; changes when any field does. */
    String fingerprint(Assignment assignment);
}
