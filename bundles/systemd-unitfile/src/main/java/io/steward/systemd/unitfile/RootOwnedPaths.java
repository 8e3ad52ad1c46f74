package io.steward.systemd.unitfile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The host's answer, read at install time: a path is fine when nobody but root can change what it names. Every
 * existing component, from {@code /} down, must be owned by root; a directory or file writable by group or others
 * is refused, except a sticky directory (such as {@code /tmp}) above a root-owned entry, which others can neither
 * rename nor delete. A component that does not exist is fine only below a directory that only root can write, so
 * that nobody else can create it later. Symbolic links (root-owned, as every component) are followed, and their
 * targets judged the same way. Devices, sockets and FIFOs (such as {@code /dev/null}) are judged by owner and
 * directory only: writing to them runs nothing. Paths under {@code /proc} are refused (their links name whatever
 * process reads them), and so are paths with {@code .} or {@code ..} components: they are the
 * kernel's business, not a reader's.
 */
public final class RootOwnedPaths implements PathJudge {
    private static final int MAX_LINKS = 40;

    private final List<Path> agentRoots;

    /**
     * @param agentRoots directories the agent writes whoever owns them (its data directory: root's when the agent
     *                   runs as root, which makes it no less the agent's); a path through them is refused
     */
    public RootOwnedPaths(List<Path> agentRoots) {
        this.agentRoots = agentRoots.stream().map(RootOwnedPaths::real).toList();
    }

    private static Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    @Override
    public Optional<String> whyNot(String absolutePath) {
        try {
            return judge(absolutePath, 0);
        } catch (IOException e) {
            return Optional.of("cannot inspect " + absolutePath + " (" + e.getMessage() + ")");
        }
    }

    private Optional<String> judge(String path, int links) throws IOException {
        if (!path.startsWith("/")) {
            return Optional.of(path + " is not an absolute path");
        }
        if (path.equals("/proc") || path.startsWith("/proc/")) {
            return Optional.of(path + " lies in /proc, whose links name whatever process reads them");
        }
        for (String part : path.split("/")) {
            if (part.equals(".") || part.equals("..")) {
                return Optional.of(path + " has a \"" + part + "\" component");
            }
        }
        Path current = Path.of("/");
        boolean parentOpen = false;      // the parent can be written by group or others
        boolean parentSticky = false;
        Path parent = current;
        String[] parts = path.substring(1).split("/+");
        for (int i = 0; i < parts.length; i++) {
            if (parts[i].isEmpty()) {
                continue;
            }
            Path next = current.resolve(parts[i]);
            for (Path root : agentRoots) {
                if (next.startsWith(root)) {
                    return Optional.of(next + " lies in " + root + ", which the agent writes");
                }
            }
            PosixFileAttributes a;
            try {
                a = Files.readAttributes(next, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                return parentOpen ? Optional.of(parent + " is writable by group or others, so they can create "
                        + next) : Optional.empty();
            }
            if (parentOpen && !parentSticky) {
                return Optional.of(parent + " is writable by group or others, so they can replace " + next);
            }
            int uid = (Integer) Files.getAttribute(next, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (uid != 0) {
                return Optional.of(next + " is owned by uid " + uid + ", not root");
            }
            if (a.isSymbolicLink()) {
                if (links >= MAX_LINKS) {
                    return Optional.of(path + " goes through too many symbolic links");
                }
                Path target = Files.readSymbolicLink(next);
                Path resolved = (target.isAbsolute() ? target : current.resolve(target)).normalize();
                StringBuilder rest = new StringBuilder(resolved.toString());
                for (int j = i + 1; j < parts.length; j++) {
                    rest.append('/').append(parts[j]);
                }
                return judge(rest.toString().replace("//", "/"), links + 1);
            }
            Set<PosixFilePermission> p = a.permissions();
            boolean open = p.contains(PosixFilePermission.GROUP_WRITE) || p.contains(PosixFilePermission.OTHERS_WRITE);
            if (!a.isDirectory()) {
                if (open && a.isRegularFile()) {
                    return Optional.of(next + " is writable by group or others");
                }
                if (i < parts.length - 1) {
                    return Optional.of(next + " is not a directory");
                }
                return Optional.empty();
            }
            parentSticky = (Integer) Files.getAttribute(next, "unix:mode", LinkOption.NOFOLLOW_LINKS) % 02000 >= 01000;
            parentOpen = open;
            parent = next;
            current = next;
        }
        return parentOpen ? Optional.of(current + " is writable by group or others") : Optional.empty();
    }
}
