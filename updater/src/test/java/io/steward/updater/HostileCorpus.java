package io.steward.updater;

import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The hostile corpus of {@code src/test/resources/hostile/*.cases}: every case an attack that must be refused by
 * a named rule of the unit policy (the vocabulary of the rules table) and change nothing.
 * <p>
 * <b>Format.</b> A file holds cases; a case starts with {@code === <id>} and has header lines {@code key: value}
 * up to its first file block; a file block starts with {@code --- <name>} and runs to the next {@code ---} or
 * {@code ===} line. Lines starting with {@code #} before the first case are comments. Headers:
 * <ul>
 * <li>{@code title} (required), {@code rule} (the expected {@code [rule: …]}) or {@code expect} (a substring, for
 * refusals outside the unit rules, e.g. a bad signature), {@code mode} ({@code both}, the default: the updater
 * and the in-process {@code LocalUnitInstaller}; {@code updater}: protocol-level, the updater only, with the
 * reason after a space);</li>
 * <li>{@code op} ({@code install}, the default, {@code uninstall}, {@code grant}, {@code materialize}),
 * {@code id} (a literal add-on id instead of a fresh one), {@code kind}, {@code version}, {@code primary},
 * {@code request-units}, {@code manifest-units}, {@code capabilities} (the manifest's), {@code grant-binary},
 * {@code grant-caps} (JSON string arrays where plural; JSON escapes such as {@code \u0000} work there),
 * {@code signature: wrong} (signed by a key nobody trusts), {@code bomb: <MiB>} (a file of that many zero
 * bytes), {@code installed-before: <version>} (that version is installed, accepted, before the case runs),
 * {@code tamper} (what the compromised agent does to its kept artifact before the request: {@code symlink},
 * {@code dir-symlink}, {@code append}, {@code fifo}; {@code root-owned}: the file is root's).</li>
 * </ul>
 * File blocks: {@code --- <name>} a file of the artifact (at its root; {@code run.sh} is added when absent),
 * {@code --- manifest} replaces {@code addon.json}, {@code --- unitdir:<name>} and {@code --- rundir:<name>} are
 * written by the operator before the case into the unit directory or the sandbox's {@code /run/systemd/system}
 * (and removed after it).
 * <p>
 * <b>Escapes in file blocks</b> (unit text often needs backslashes, so these use angle brackets): {@code <<NUL>>}
 * {@code <<CR>>} {@code <<VT>>} {@code <<FF>>} {@code <<TAB>>} {@code <<SP>>} (a visible space, e.g. at a line end)
 * {@code <<DEL>>} {@code <<ESC>>} {@code <<BOM>>} (U+FEFF) {@code <<NEL>>} (U+0085) {@code <<LS>>} (U+2028)
 * {@code <<PS>>} (U+2029) {@code <<IDSP>>} (U+3000) {@code <<NBSP>>} (U+00A0), {@code <<xHH>>} one raw byte,
 * {@code <<U+HHHH>>} a code point in UTF-8, {@code <<EOF>>} the file ends right here (no final newline; the rest
 * of the block is ignored) and {@code <<HERE>>} (nothing) marks the line the refusal must name: the case then
 * also expects {@code <file> line <n>:}, n the 1-based physical line (counted in LF bytes) of the marker.
 * Placeholders (in file blocks and headers) are the harness's: {@code @ID@ @VERSION@ @TOK@ @DATA@ @SHM@ @TMP@
 * @VARTMP@ @LOCK@ @W777@ @W775@ @LINK@ @AGENT_UID@ @AGENT_GID@ @AGENT@}; {@code @ADDON_HOME@},
 * {@code @ADDON_STATE@}, {@code @ADDON_SPOOL@} and {@code @ADDON_CONFIG@} are the policy's own and reach it unchanged.
 */
final class HostileCorpus {
    private static final Pattern TOKEN = Pattern.compile("<<([A-Za-z]+|x[0-9A-Fa-f]{2}|U\\+[0-9A-Fa-f]{4,6})>>");

    private HostileCorpus() {
    }

    /** A file block: its name and its lines, as written (escapes and placeholders not yet applied). */
    record Block(String name, List<String> lines) {
    }

    /** One case of the corpus, as parsed. */
    record Case(String id, String group, String source, Map<String, String> headers, List<Block> blocks) {
        String title() {
            return headers.getOrDefault("title", "");
        }

        Optional<String> rule() {
            return Optional.ofNullable(headers.get("rule"));
        }

        Optional<String> expect() {
            return Optional.ofNullable(headers.get("expect"));
        }

        boolean updaterOnly() {
            return headers.getOrDefault("mode", "both").startsWith("updater");
        }

        String op() {
            return headers.getOrDefault("op", "install");
        }

        String header(String key, String otherwise) {
            return headers.getOrDefault(key, otherwise);
        }

        List<Block> artifactFiles() {
            return blocks.stream().filter(b -> !b.name().contains(":") && !b.name().equals("manifest")).toList();
        }

        Optional<Block> block(String name) {
            return blocks.stream().filter(b -> b.name().equals(name)).findFirst();
        }
    }

    /** A decoded file: its bytes and, when it carries {@code <<HERE>>}, the physical line of the marker. */
    record Decoded(byte[] bytes, Optional<Integer> line) {
    }

    /** Every case of every {@code hostile/*.cases} resource, in file then case order. */
    static List<Case> load() {
        try {
            Path dir = Path.of(HostileCorpus.class.getResource("/hostile").toURI());
            List<Case> all = new ArrayList<>();
            try (Stream<Path> s = Files.list(dir)) {
                for (Path f : s.filter(p -> p.toString().endsWith(".cases")).sorted().toList()) {
                    all.addAll(parse(f.getFileName().toString().replaceFirst("^\\d+-", "").replace(".cases", ""),
                            f.getFileName().toString(), Files.readAllLines(f, StandardCharsets.UTF_8)));
                }
            }
            Map<String, String> seen = new LinkedHashMap<>();
            for (Case c : all) {
                String other = seen.put(c.id(), c.source());
                if (other != null) {
                    throw new IllegalStateException("case " + c.id() + " is in " + other + " and " + c.source());
                }
            }
            return all;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Case> parse(String group, String source, List<String> lines) {
        List<Case> cases = new ArrayList<>();
        String id = null;
        Map<String, String> headers = null;
        List<Block> blocks = null;
        List<String> current = null;
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n);
            if (line.startsWith("=== ")) {
                if (id != null) {
                    cases.add(check(new Case(id, group, source, headers, blocks)));
                }
                id = line.substring(4).trim();
                headers = new LinkedHashMap<>();
                blocks = new ArrayList<>();
                current = null;
            } else if (id == null) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    throw new IllegalStateException(source + ":" + (n + 1) + ": text before the first case");
                }
            } else if (line.startsWith("--- ")) {
                current = new ArrayList<>();
                blocks.add(new Block(line.substring(4).trim(), current));
            } else if (current != null) {
                current.add(line);
            } else if (!line.isBlank() && !line.startsWith("#")) {
                int colon = line.indexOf(':');
                if (colon <= 0) {
                    throw new IllegalStateException(source + ":" + (n + 1) + ": not a header: " + line);
                }
                headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
        }
        if (id != null) {
            cases.add(check(new Case(id, group, source, headers, blocks)));
        }
        return cases;
    }

    private static Case check(Case c) {
        if (c.title().isEmpty() || c.rule().isEmpty() && c.expect().isEmpty()) {
            throw new IllegalStateException(c.source() + ": case " + c.id() + " needs a title and a rule or expect");
        }
        return c;
    }

    /** A JSON string array header, placeholders applied to each element. */
    static List<String> strings(String json, UnaryOperator<String> placeholders) {
        List<String> out = new ArrayList<>();
        JsonParser.parseString(json).getAsJsonArray().forEach(e -> out.add(placeholders.apply(e.getAsString())));
        return out;
    }

    /** The bytes of a block: placeholders, then escapes; lines end with LF unless {@code <<EOF>>} ends the file. */
    static Decoded decode(List<String> lines, UnaryOperator<String> placeholders) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Integer here = null;
        int physical = 1;
        for (String raw : lines) {
            String line = placeholders.apply(raw);
            Matcher m = TOKEN.matcher(line);
            int at = 0;
            boolean eof = false;
            while (m.find()) {
                out.writeBytes(line.substring(at, m.start()).getBytes(StandardCharsets.UTF_8));
                at = m.end();
                String t = m.group(1);
                if (t.equals("EOF")) {
                    eof = true;
                    break;
                }
                if (t.equals("HERE")) {
                    if (here != null) {
                        throw new IllegalStateException("two <<HERE>> markers in one file");
                    }
                    here = physical;
                    continue;
                }
                byte[] b = token(t);
                for (byte x : b) {
                    if (x == '\n') {
                        physical++;
                    }
                }
                out.writeBytes(b);
            }
            if (eof) {
                return new Decoded(out.toByteArray(), Optional.ofNullable(here));
            }
            out.writeBytes(line.substring(at).getBytes(StandardCharsets.UTF_8));
            out.write('\n');
            physical++;
        }
        return new Decoded(out.toByteArray(), Optional.ofNullable(here));
    }

    private static byte[] token(String t) {
        if (t.startsWith("x")) {
            return new byte[] {(byte) Integer.parseInt(t.substring(1), 16)};
        }
        if (t.startsWith("U+")) {
            return new String(Character.toChars(Integer.parseInt(t.substring(2), 16))).getBytes(StandardCharsets.UTF_8);
        }
        int cp = switch (t) {
            case "NUL" -> 0;
            case "TAB" -> '\t';
            case "CR" -> '\r';
            case "VT" -> 0x0b;
            case "FF" -> 0x0c;
            case "SP" -> ' ';
            case "ESC" -> 0x1b;
            case "DEL" -> 0x7f;
            case "BOM" -> 0xfeff;
            case "NEL" -> 0x85;
            case "LS" -> 0x2028;
            case "PS" -> 0x2029;
            case "IDSP" -> 0x3000;
            case "NBSP" -> 0xa0;
            default -> throw new IllegalArgumentException("unknown escape <<" + t + ">>");
        };
        return new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
    }
}
