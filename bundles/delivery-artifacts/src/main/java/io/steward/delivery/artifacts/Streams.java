package io.steward.delivery.artifacts;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** The stream wrappers of the one-pass reader, and the exceptions that tell where an I/O error came from. */
public final class Streams {
    private Streams() {
    }

    /** The artifact's source (a file or a download) failed: a transient fetch error. */
    public static final class SourceException extends IOException {
        private static final long serialVersionUID = 1L;

        public SourceException(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** The archive broke a rule: a permanent refusal with a ready-made cause. */
    public static final class Refusal extends IOException {
        private static final long serialVersionUID = 1L;

        public Refusal(String cause) {
            super(cause);
        }
    }

    /** Tags every I/O error of the underlying stream as a {@link SourceException}. */
    public static final class Source extends FilterInputStream {
        public Source(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (SourceException e) {
                throw e;
            } catch (IOException e) {
                throw new SourceException(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (SourceException e) {
                throw e;
            } catch (IOException e) {
                throw new SourceException(e);
            }
        }
    }

    /**
     * Counts the bytes that pass and refuses more than a limit. A temporary, lower limit (a budget) can
     * be set around a call that should read little, such as reading one tar header.
     */
    public static final class Counting extends FilterInputStream {
        private final long limit;
        private final String exceeded;
        private final Progress progress;
        private long count;
        private long budgetEnd = Long.MAX_VALUE;
        private String budgetExceeded;

        public Counting(InputStream in, long limit, String exceeded, Progress progress) {
            super(in);
            this.limit = limit;
            this.exceeded = exceeded;
            this.progress = progress;
        }

        public long count() {
            return count;
        }

        public void budget(long bytes, String message) {
            budgetEnd = count + bytes;
            budgetExceeded = message;
        }

        public void endBudget() {
            budgetEnd = Long.MAX_VALUE;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                add(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                add(n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            // read instead of skipping so that every byte is counted (and digested below us)
            byte[] buf = new byte[(int) Math.min(n, 8192)];
            int r = read(buf, 0, buf.length);
            return Math.max(r, 0);
        }

        @Override
        public boolean markSupported() {
            return false;
        }

        private void add(int n) throws Refusal {
            count += n;
            progress.advance(n);
            if (count > limit) {
                throw new Refusal(exceeded);
            }
            if (count > budgetEnd) {
                throw new Refusal(budgetExceeded);
            }
        }
    }
}
