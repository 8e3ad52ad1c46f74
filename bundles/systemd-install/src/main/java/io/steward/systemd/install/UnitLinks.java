package io.steward.systemd.install;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code <target>.wants/<unit>} and {@code <target>.requires/<unit>} symlinks of Steward's own units,
 * made and removed by Steward itself instead of {@code EnableUnitFiles}/{@code DisableUnitFiles}, which
 * follow the shipped {@code [Install] Alias=}/{@code Also=} and so touch units Steward does not own.
 * <p>
 * A link is {@code <unitDir>/<target>.<kind>/<unit>} pointing at the absolute path {@code <unitDir>/<unit>},
 * as {@code systemctl enable} writes it. Nothing here follows a symlink: the unit directory, a
 * {@code .wants}/{@code .requires} directory and the unit file must be what they look like (a symlinked
 * {@code .wants} directory is refused, never entered). Nothing is ever replaced: an entry that is not exactly
 * Steward's link is refused on create and left alone on remove. Names are plain unit names
 * ({@value #NAME}), so no path can be built from them.
 * <p>
 * systemd reads these links from the disk: {@code GetUnitFileState} reports {@code enabled} for the unit
 * at once (with or without an {@code [Install]} section); the target's {@code Wants}/{@code Requires}
 * include the unit only after a daemon-reload. Not thread-safe for the same unit directory: the caller
 * serialises (the unit directory is root's, and Steward its only writer for these names).
 */
public final class UnitLinks {
    /** A plain unit name: no {@code /}, no template, one of the types Steward links. */
    static final String NAME = "[A-Za-z0-9:_.\\-]+\\.(target|service|timer)";
    private static final Pattern NAME_PATTERN = Pattern.compile(NAME);
    private static final int NAME_MAX = 255;
    private static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwxr-xr-x");

    private UnitLinks() {
    }

    /**
     * One {@code WantedBy=}/{@code RequiredBy=} link.
     *
     * @param target the unit that wants or requires, e.g. {@code multi-user.target}
     * @param kind   {@code wants} or {@code requires}
     */
    public record InstallLink(String target, String kind) {
        public InstallLink {
            checkName("target", target);
            if (!"wants".equals(kind) && !"requires".equals(kind)) {
                throw new IllegalArgumentException("link kind \"" + kind + "\" is neither wants nor requires");
            }
        }

        /** {@code multi-user.target.wants}: the directory's name. */
        public String directory() {
            return target + "." + kind;
        }
    }

    /** Refused: the tree is not as Steward may change it. Nothing was changed. */
    public static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    /**
     * What {@link #create} made, so that {@link #undo} removes exactly that.
     *
     * @param links       the symlinks created, in order
     * @param directories the {@code .wants}/{@code .requires} directories created, in order
     */
    public record Created(Path unitDir, String unit, List<Path> links, List<Path> directories) {
        public Created {
            links = List.copyOf(links);
            directories = List.copyOf(directories);
        }

        /** True when everything was already in place. */
        public boolean nothing() {
            return links.isEmpty() && directories.isEmpty();
        }
    }

    /**
     * What {@link #remove} or {@link #undo} did.
     *
     * @param links       the symlinks removed
     * @param directories the directories removed because they became empty
     * @param skipped     one sentence per entry left alone (not Steward's link, or a directory that is not one)
     */
    public record Removed(List<Path> links, List<Path> directories, List<String> skipped) {
        public Removed {
            links = List.copyOf(links);
            directories = List.copyOf(directories);
            skipped = List.copyOf(skipped);
        }
    }

    static void checkName(String what, String name) {
        if (name == null || name.length() > NAME_MAX || !NAME_PATTERN.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " name \"" + name + "\" is not a plain unit name (" + NAME
                    + ")");
        }
    }

    /** The link's content: the unit file's absolute path. */
    static String destination(Path unitDir, String unit) {
        return unitDir.resolve(unit).toString();
    }

    /**
     * Creates {@code <unitDir>/<target>.<kind>/<unit>} → {@code <unitDir>/<unit>} for every link, and each
     * directory that is missing (mode 0755). A link already there, identical, is kept (nothing to do). Every
     * entry is checked before the first change: anything else at a link's path (another symlink, a file, a
     * directory), a {@code .wants} directory that is a symlink or not a directory, or a unit file that is not
     * a regular file refuses the whole call with {@link Refused} and changes nothing.
     *
     * @return what was created (empty when everything was in place)
     */
    public static Created create(Path unitDir, String unit, List<InstallLink> links) throws IOException {
        checkName("unit", unit);
        checkUnitDir(unitDir);
        Path unitFile = unitDir.resolve(unit);
        Optional<BasicFileAttributes> file = attributes(unitFile);
        if (file.isEmpty() || !file.get().isRegularFile()) {
            throw new Refused("cannot link " + unit + ": " + unitFile + " is " + describe(unitFile, file)
                    + ", not a regular unit file");
        }
        String destination = destination(unitDir, unit);
        List<Path> newDirectories = new ArrayList<>();
        List<Path> newLinks = new ArrayList<>();
        for (InstallLink link : distinct(links)) {
            Path dir = unitDir.resolve(link.directory());
            Path entry = dir.resolve(unit);
            if (newDirectories.contains(dir)) {
                continue;
            }
            Optional<BasicFileAttributes> d = attributes(dir);
            if (d.isEmpty()) {
                newDirectories.add(dir);
                newLinks.add(entry);
                continue;
            }
            if (!d.get().isDirectory()) {
                throw new Refused("cannot link " + unit + " into " + dir + ": it is " + describe(dir, d)
                        + ", not a directory, and Steward does not follow or replace it");
            }
            Optional<BasicFileAttributes> e = attributes(entry);
            if (e.isEmpty()) {
                newLinks.add(entry);
            } else if (!isLinkTo(entry, e, destination)) {
                throw new Refused("cannot link " + unit + ": " + entry + " already exists as " + describe(entry, e)
                        + ", not Steward's link to " + destination + ", and Steward never replaces an entry");
            }
        }
        List<Path> madeDirectories = new ArrayList<>();
        List<Path> madeLinks = new ArrayList<>();
        try {
            for (Path dir : newDirectories) {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIRECTORY_MODE));
                madeDirectories.add(dir);
                Files.setPosixFilePermissions(dir, DIRECTORY_MODE);     // whatever the umask
            }
            for (Path entry : newLinks) {
                Files.createSymbolicLink(entry, Path.of(destination));   // fails if anything appeared there
                madeLinks.add(entry);
            }
        } catch (IOException | RuntimeException e) {
            Removed undone = undo(new Created(unitDir, unit, madeLinks, madeDirectories));
            IOException failure = new IOException("linking " + unit + " failed and was undone (" + e.getMessage()
                    + (undone.skipped().isEmpty() ? "" : "; " + String.join("; ", undone.skipped())) + ")", e);
            throw failure;
        }
        return new Created(unitDir, unit, madeLinks, madeDirectories);
    }

    /**
     * Removes, for every link, {@code <unitDir>/<target>.<kind>/<unit>} if it is a symlink to exactly
     * {@code <unitDir>/<unit>}, then that directory if this emptied it. Anything else is left alone and
     * reported in {@link Removed#skipped()}: another entry under the name, a {@code .wants} path that is a
     * symlink or not a directory. A missing link or directory is nothing to do (not reported).
     */
    public static Removed remove(Path unitDir, String unit, List<InstallLink> links) throws IOException {
        checkName("unit", unit);
        checkUnitDir(unitDir);
        String destination = destination(unitDir, unit);
        List<Path> entries = new ArrayList<>();
        for (InstallLink link : distinct(links)) {
            entries.add(unitDir.resolve(link.directory()).resolve(unit));
        }
        return removeEntries(destination, entries, List.of(), true);
    }

    /**
     * Reverts a {@link #create}: its links (if still exactly Steward's), then their directories and the ones it
     * created, each if empty (as {@link #remove} leaves them: another install may have created the directory the
     * undone link was in and be gone since).
     */
    public static Removed undo(Created created) throws IOException {
        return removeEntries(destination(created.unitDir(), created.unit()), created.links(),
                created.directories(), true);
    }

    /**
     * Removes each entry that is Steward's link; then each directory of a removed link that is now empty
     * ({@code emptiedDirectories}), and each of {@code alsoDirectories} if empty.
     */
    private static Removed removeEntries(String destination, List<Path> entries, List<Path> alsoDirectories,
                                         boolean emptiedDirectories) throws IOException {
        List<Path> removedLinks = new ArrayList<>();
        List<Path> removedDirectories = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        Set<Path> candidates = new LinkedHashSet<>();
        for (Path entry : entries) {
            Path dir = entry.getParent();
            Optional<BasicFileAttributes> d = attributes(dir);
            if (d.isEmpty()) {
                continue;
            }
            if (!d.get().isDirectory()) {
                skipped.add(dir + " is " + describe(dir, d) + ", not a directory; left alone, not followed");
                continue;
            }
            Optional<BasicFileAttributes> e = attributes(entry);
            if (e.isEmpty()) {
                continue;
            }
            if (!isLinkTo(entry, e, destination)) {
                skipped.add(entry + " is " + describe(entry, e) + ", not Steward's link to " + destination
                        + "; left alone");
                continue;
            }
            Files.delete(entry);      // a symlink: deletes the link itself
            removedLinks.add(entry);
            if (emptiedDirectories) {
                candidates.add(dir);
            }
        }
        // directories last, newest first (undo), each only while empty and really a directory
        List<Path> dirs = new ArrayList<>(candidates);
        List<Path> also = new ArrayList<>(alsoDirectories);
        java.util.Collections.reverse(also);
        dirs.addAll(also);
        for (Path dir : new LinkedHashSet<>(dirs)) {
            Optional<BasicFileAttributes> d = attributes(dir);
            if (d.isEmpty() || !d.get().isDirectory()) {
                continue;
            }
            try {
                Files.delete(dir);
                removedDirectories.add(dir);
            } catch (DirectoryNotEmptyException e) {
                // someone else's entries: the directory stays
            }
        }
        return new Removed(removedLinks, removedDirectories, skipped);
    }

    private static void checkUnitDir(Path unitDir) throws IOException {
        Objects.requireNonNull(unitDir, "unitDir");
        if (!unitDir.isAbsolute()) {
            throw new IllegalArgumentException("the unit directory " + unitDir + " is not an absolute path");
        }
        Optional<BasicFileAttributes> a = attributes(unitDir);
        if (a.isEmpty() || !a.get().isDirectory()) {
            throw new Refused("the unit directory " + unitDir + " is " + describe(unitDir, a)
                    + ", not a directory (Steward does not follow a symlink there)");
        }
    }

    private static List<InstallLink> distinct(List<InstallLink> links) {
        return List.copyOf(new LinkedHashSet<>(links));
    }

    /** lstat: empty when nothing is there. */
    private static Optional<BasicFileAttributes> attributes(Path p) throws IOException {
        try {
            return Optional.of(Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    private static boolean isLinkTo(Path entry, Optional<BasicFileAttributes> a, String destination)
            throws IOException {
        return a.isPresent() && a.get().isSymbolicLink()
                && Files.readSymbolicLink(entry).toString().equals(destination);
    }

    private static String describe(Path p, Optional<BasicFileAttributes> a) throws IOException {
        if (a.isEmpty()) {
            return "missing";
        }
        BasicFileAttributes x = a.get();
        if (x.isSymbolicLink()) {
            return "a symlink to " + Files.readSymbolicLink(p);
        }
        if (x.isDirectory()) {
            return "a directory";
        }
        if (x.isRegularFile()) {
            return "a regular file";
        }
        return "a special file";
    }
}
