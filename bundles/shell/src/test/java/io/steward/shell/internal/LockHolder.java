package io.steward.shell.internal;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Another process holding {@code agent.lock} as an agent does: writes the holder line, locks the file, prints
 * {@value #LOCKED} and keeps the lock until its stdin closes. Args: the lock file, the holder line.
 */
public final class LockHolder {
    static final String LOCKED = "LOCKED";

    private LockHolder() {
    }

    public static void main(String[] args) throws Exception {
        try (FileChannel ch = FileChannel.open(Path.of(args[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.READ); var lock = ch.lock()) {
            ch.truncate(0).write(ByteBuffer.wrap(args[1].getBytes(StandardCharsets.UTF_8)));
            System.out.println(LOCKED);
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold the lock until the test closes our stdin
            }
        }
    }
}
