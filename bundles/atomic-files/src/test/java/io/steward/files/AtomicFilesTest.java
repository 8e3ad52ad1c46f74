package io.steward.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

    @TempDir
    Path dir;

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void replacesAnExistingFileAndLeavesNoTemporary() throws IOException {
        Path file = dir.resolve("state.json");
        Files.writeString(file, "old");
        AtomicFiles.replace(file, ".state.json.tmp").write(utf8("new"));
        assertEquals("new", Files.readString(file));
        assertFalse(Files.exists(dir.resolve(".state.json.tmp")));
    }

    @Test
    void createsTheDirectoryOnlyWhenAsked() throws IOException {
        Path file = dir.resolve("a/b/state.json");
        assertThrows(NoSuchFileException.class, () -> AtomicFiles.replace(file, "state.json.tmp").write(utf8("x")));
        AtomicFiles.replace(file, "state.json.tmp").createDirectories().write(utf8("x"));
        assertEquals("x", Files.readString(file));
    }

    @Test
    void durableWriteReplacesTheFile() throws IOException {
        Path file = dir.resolve("record");
        AtomicFiles.replace(file, ".record.tmp").durable().createDirectories().write(utf8("one"));
        AtomicFiles.replace(file, ".record.tmp").durable().write(utf8("two"));
        assertEquals("two", Files.readString(file));
        assertFalse(Files.exists(dir.resolve(".record.tmp")));
    }

    @Test
    void setsThePermissionsItWasGiven() throws IOException {
        Path file = dir.resolve("x.service");
        Files.writeString(file, "old");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        AtomicFiles.replace(file, ".x.service.steward-tmp").permissions("rw-r--r--").write(utf8("new"));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void rejectsMalformedPermissionsBeforeWriting() {
        Path file = dir.resolve("y");
        assertThrows(IllegalArgumentException.class, () -> AtomicFiles.replace(file, ".y.tmp").permissions("rwx"));
        assertFalse(Files.exists(file));
    }

    @Test
    void aFailedRenameKeepsTheOldFileAndCleansUpWhenAsked() throws IOException {
        Path target = dir.resolve("busy");
        Files.createDirectory(target);
        Files.writeString(target.resolve("child"), "keeps the directory non-empty");
        assertThrows(IOException.class, () -> AtomicFiles.replace(target, ".busy.tmp").cleanUpOnFailure()
                .write(utf8("new")));
        assertFalse(Files.exists(dir.resolve(".busy.tmp")));
        assertTrue(Files.isDirectory(target));
    }

    @Test
    void withoutCleanUpAFailedRenameLeavesTheTemporary() throws IOException {
        Path target = dir.resolve("busy");
        Files.createDirectory(target);
        Files.writeString(target.resolve("child"), "keeps the directory non-empty");
        assertThrows(IOException.class, () -> AtomicFiles.replace(target, ".busy.tmp").write(utf8("new")));
        assertEquals("new", Files.readString(dir.resolve(".busy.tmp")));
    }

    @Test
    void syncDirectoryIgnoresWhatItCannotOpen() {
        AtomicFiles.syncDirectory(dir.resolve("missing"));
        AtomicFiles.syncDirectory(dir);
    }
}
