package io.steward.updater;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * User and group names to numeric ids, from {@code /etc/passwd} and {@code /etc/group} (read directly: no
 * program is run, no NSS module is loaded). A number is taken as it is, so hosts whose accounts live in a
 * directory service configure the updater with numeric ids.
 */
final class Accounts {
    /** One resolved user. */
    record User(String name, long uid, long gid) {
    }

    private final Path passwd;
    private final Path group;

    Accounts(Path passwd, Path group) {
        this.passwd = passwd;
        this.group = group;
    }

    static Accounts system() {
        return new Accounts(Path.of("/etc/passwd"), Path.of("/etc/group"));
    }

    /** The user named {@code nameOrId} (or with that uid); its primary gid from the passwd entry. */
    User user(String nameOrId) throws IOException {
        for (String[] f : entries(passwd)) {
            if (f.length >= 4 && (f[0].equals(nameOrId) || f[2].equals(nameOrId))) {
                return new User(f[0], Long.parseLong(f[2]), Long.parseLong(f[3]));
            }
        }
        if (nameOrId.matches("[0-9]{1,10}")) {
            long id = Long.parseLong(nameOrId);
            return new User(nameOrId, id, id);
        }
        throw new IOException("no user \"" + nameOrId + "\" in " + passwd);
    }

    /** The gid of the group named {@code nameOrId}, or the number itself. */
    long group(String nameOrId) throws IOException {
        for (String[] f : entries(group)) {
            if (f.length >= 3 && f[0].equals(nameOrId)) {
                return Long.parseLong(f[2]);
            }
        }
        if (nameOrId.matches("[0-9]{1,10}")) {
            return Long.parseLong(nameOrId);
        }
        throw new IOException("no group \"" + nameOrId + "\" in " + group);
    }

    /**
     * Every way a unit could name the agent's user or group: the numbers and the names of the passwd and group
     * entries with them. No unit may run as the agent (it could then control the service's processes).
     */
    java.util.Set<String> identities(long uid, long gid) throws IOException {
        java.util.Set<String> out = new java.util.TreeSet<>(List.of(Long.toString(uid), Long.toString(gid)));
        for (String[] f : entries(passwd)) {
            if (f.length >= 3 && f[2].equals(Long.toString(uid))) {
                out.add(f[0]);
            }
        }
        for (String[] f : entries(group)) {
            if (f.length >= 3 && f[2].equals(Long.toString(gid))) {
                out.add(f[0]);
            }
        }
        return out;
    }

    private static List<String[]> entries(Path file) throws IOException {
        return Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#")).map(l -> l.split(":", -1)).toList();
    }
}
