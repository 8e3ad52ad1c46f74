package io.steward.systemd.bus;

import io.steward.systemd.SystemdException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.freedesktop.dbus.DBusPath;
import org.freedesktop.dbus.connections.impl.DBusConnection;
import org.freedesktop.dbus.connections.impl.DBusConnectionBuilder;
import org.freedesktop.dbus.exceptions.DBusException;
import org.freedesktop.dbus.exceptions.DBusExecutionException;
import org.freedesktop.dbus.matchrules.DBusMatchRuleBuilder;
import org.freedesktop.dbus.messages.DBusSignal;
import org.freedesktop.dbus.messages.Error;
import org.freedesktop.dbus.messages.Message;
import org.freedesktop.dbus.messages.MethodCall;
import org.freedesktop.dbus.messages.constants.MessageTypes;
import org.freedesktop.dbus.types.UInt32;
import org.freedesktop.dbus.types.UInt64;
import org.freedesktop.dbus.types.Variant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The only place that holds dbus-java types: one private (non-shared) connection to systemd's bus,
 * re-opened on demand after the bus went away, plain method calls with a reply deadline, and the
 * {@code JobRemoved} subscription. Callers get and pass JDK types ({@code String}, {@code Long},
 * {@code Map}); D-Bus failures become {@link SystemdException}s.
 */
final class Bus implements AutoCloseable {
    static final String SYSTEMD = "org.freedesktop.systemd1";
    static final String MANAGER_PATH = "/org/freedesktop/systemd1";
    static final String MANAGER = "org.freedesktop.systemd1.Manager";
    static final String PROPERTIES = "org.freedesktop.DBus.Properties";
    private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

    /** A completed job as systemd announced it. */
    record JobEnd(String job, String unit, String result) {
    }

    private final String address;
    private final Duration callTimeout;
    private final Consumer<JobEnd> jobListener;
    private final AtomicLong calls = new AtomicLong();
    private final AtomicLong reconnects = new AtomicLong();
    private final Object lock = new Object();
    private DBusConnection connection;   // guarded by lock
    private AutoCloseable signalRegistration;   // guarded by lock
    private boolean everConnected;       // guarded by lock
    private boolean closed;              // guarded by lock

    Bus(String address, Duration callTimeout, Consumer<JobEnd> jobListener) {
        this.address = address;
        this.callTimeout = callTimeout;
        this.jobListener = jobListener;
    }

    String address() {
        return address;
    }

    long calls() {
        return calls.get();
    }

    long reconnects() {
        return reconnects.get();
    }

    private DBusConnection connection() throws SystemdException {
        synchronized (lock) {
            if (closed) {
                throw new SystemdException("", "", false, "the systemd connection is closed", null);
            }
            if (connection != null && connection.isConnected()) {
                return connection;
            }
            dropLocked();
            DBusConnection c = null;
            try {
                c = DBusConnectionBuilder.forAddress(address).withShared(false)
                        .transportConfig().withTimeout((int) Math.min(Integer.MAX_VALUE, callTimeout.toMillis())).back()
                        .build();
                // JobRemoved reaches us only with a match rule and after Subscribe
                signalRegistration = c.addGenericSigHandler(DBusMatchRuleBuilder.create()
                        .withType(MessageTypes.SIGNAL).withInterface(MANAGER).withMember("JobRemoved")
                        .withPath(MANAGER_PATH).build(), this::onSignal);
                connection = c;
                call(c, MANAGER_PATH, MANAGER, "Subscribe", null);
                if (everConnected) {
                    reconnects.incrementAndGet();
                    LOG.info("Reconnected to systemd at {}", address);
                }
                everConnected = true;
                return c;
            } catch (DBusException | RuntimeException | Broken | Refused e) {
                if (c != null) {
                    c.disconnect();
                }
                connection = null;
                signalRegistration = null;
                throw new SystemdException("", e instanceof DBusExecutionException x ? x.getType() : "", false,
                        "cannot connect to systemd at " + address + ": " + e.getMessage(), e);
            }
        }
    }

    private void dropLocked() {
        if (signalRegistration != null) {
            try {
                signalRegistration.close();
            } catch (Exception e) {
                LOG.trace("Removing the signal handler failed", e);
            }
            signalRegistration = null;
        }
        if (connection != null) {
            connection.disconnect();
            connection = null;
        }
    }

    private void onSignal(DBusSignal signal) {
        try {        // isolation boundary: a D-Bus signal handler
            Object[] p = signal.getParameters();
            if (p.length >= 4) {
                jobListener.accept(new JobEnd(path(p[1]), String.valueOf(p[2]), String.valueOf(p[3])));
            }
        } catch (DBusException | RuntimeException e) {
            LOG.warn("Ignoring a JobRemoved signal that could not be read: {}", e.toString());
        }
    }

    /**
     * Calls a method and returns its reply body. A read that fails because the connection broke is
     * tried once more on a fresh connection; a mutation is not (it may have reached systemd).
     */
    Object[] call(String unit, String path, String iface, String member, boolean read, String signature,
                  Object... args) throws SystemdException {
        try {
            return call(connection(), path, iface, member, signature, args);
        } catch (DBusException | DBusExecutionException e) {
            throw failure(unit, member, e);
        } catch (Refused e) {
            throw refused(unit, member, e);
        } catch (Broken e) {
            if (!read) {
                throw new SystemdException(unit, "", false, member + " failed: the connection to systemd broke ("
                        + e.getMessage() + ")", e);
            }
        }
        try {
            return call(connection(), path, iface, member, signature, args);
        } catch (DBusException | DBusExecutionException e) {
            throw failure(unit, member, e);
        } catch (Refused e) {
            throw refused(unit, member, e);
        } catch (Broken e) {
            throw new SystemdException(unit, "", false, member + " failed: the connection to systemd broke ("
                    + e.getMessage() + ")", e);
        }
    }

    /** systemd answered with a D-Bus error. */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        private final String name;

        Refused(String name, String message) {
            super(message);
            this.name = name == null ? "" : name;
        }
    }

    /** Thrown when the connection is gone; the caller may retry on a new one. */
    private static final class Broken extends Exception {
        private static final long serialVersionUID = 1L;

        Broken(String message) {
            super(message);
        }
    }

    private Object[] call(DBusConnection c, String path, String iface, String member, String signature,
                          Object... args) throws DBusException, Broken, Refused, SystemdException {
        calls.incrementAndGet();
        MethodCall mc = c.getMessageFactory().createMethodCall(SYSTEMD, path, iface, member, (byte) 0, signature,
                args);
        c.sendMessage(mc);
        Message reply = mc.getReply(callTimeout.toMillis());
        if (reply == null) {
            if (!c.isConnected()) {
                markBroken(c);
                throw new Broken("disconnected");
            }
            throw new SystemdException("", "", true, member + " got no reply within " + callTimeout.toMillis()
                    + " ms", null);
        }
        if (reply instanceof Error error) {
            if (!c.isConnected() || "org.freedesktop.DBus.Error.Disconnected".equals(error.getName())
                    || "org.freedesktop.DBus.Error.NoReply".equals(error.getName()) && !c.isConnected()) {
                markBroken(c);
                throw new Broken(error.getName());
            }
            throw new Refused(error.getName(), describe(error));
        }
        return reply.getParameters();
    }

    private void markBroken(DBusConnection c) {
        synchronized (lock) {
            if (connection == c) {
                dropLocked();
            }
        }
    }

    private static String describe(Error error) {
        try {
            Object[] p = error.getParameters();
            return p != null && p.length > 0 ? String.valueOf(p[0]) : error.getName();
        } catch (DBusException e) {
            return error.getName();
        }
    }

    private static SystemdException refused(String unit, String member, Refused e) {
        return new SystemdException(unit, e.name, false, member + (unit.isEmpty() ? "" : " " + unit) + " refused: "
                + e.name + ": " + e.getMessage(), e);
    }

    private static SystemdException failure(String unit, String member, Exception e) {
        String name = e instanceof DBusExecutionException x && x.getType() != null ? x.getType() : "";
        return new SystemdException(unit, name, false, member + (unit.isEmpty() ? "" : " " + unit) + " failed: "
                + (name.isEmpty() ? "" : name + ": ") + e.getMessage(), e);
    }

    // ---- typed helpers (still inside the wrapper) ------------------------------------------------

    /** The object path systemd gives a unit (sd-bus label escaping); systemd loads the unit on first access. */
    static String unitPath(String unit) {
        StringBuilder b = new StringBuilder("/org/freedesktop/systemd1/unit/");
        for (int i = 0; i < unit.length(); i++) {
            char c = unit.charAt(i);
            boolean alpha = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z';
            boolean digit = c >= '0' && c <= '9';
            if (alpha || digit && i > 0) {
                b.append(c);
            } else {
                b.append('_').append(String.format("%02x", (int) c & 0xff));
            }
        }
        return b.toString();
    }

    String loadUnit(String unit) throws SystemdException {
        return path(call(unit, MANAGER_PATH, MANAGER, "LoadUnit", true, "s", unit)[0]);
    }

    Map<String, Object> getAll(String unit, String path, String iface) throws SystemdException {
        Object[] r = call(unit, path, PROPERTIES, "GetAll", true, "s", iface);
        Map<String, Object> out = new java.util.HashMap<>();
        if (r.length > 0 && r[0] instanceof Map<?, ?> m) {
            m.forEach((k, v) -> out.put(String.valueOf(k), plain(v instanceof Variant<?> var ? var.getValue() : v)));
        }
        return out;
    }

    /** D-Bus values as JDK values: integers as {@code Long}, object paths as {@code String}. */
    static Object plain(Object v) {
        if (v instanceof UInt64 u) {
            return u.value().bitLength() > 63 ? Long.MAX_VALUE : u.longValue();   // UINT64_MAX = infinity
        }
        if (v instanceof UInt32 u) {
            return u.longValue();
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        if (v instanceof DBusPath p) {
            return p.getPath();
        }
        return v;
    }

    /**
     * The members of a D-Bus struct or array as a list of plain values ({@link #plain}), whatever shape
     * dbus-java decoded it to ({@code Object[]}, a {@link org.freedesktop.dbus.Struct}, a {@code List}, a
     * Java array); {@code null} is an empty list, anything else a list of itself.
     */
    static List<Object> members(Object v) {
        Object value = v instanceof Variant<?> var ? var.getValue() : v;
        if (value == null) {
            return List.of();
        }
        List<Object> out = new java.util.ArrayList<>();
        if (value instanceof org.freedesktop.dbus.Struct st) {
            for (Object o : st.getParameters()) {
                out.add(plain(o));
            }
        } else if (value instanceof List<?> l) {
            for (Object o : l) {
                out.add(plain(o));
            }
        } else if (value instanceof Object[] a) {
            for (Object o : a) {
                out.add(plain(o));
            }
        } else if (value.getClass().isArray()) {
            int n = java.lang.reflect.Array.getLength(value);
            for (int i = 0; i < n; i++) {
                out.add(plain(java.lang.reflect.Array.get(value, i)));
            }
        } else {
            out.add(plain(value));
        }
        return out;
    }

    /** An {@code as} (or any array) as strings; {@code null} (an absent property) is empty. */
    static List<String> strings(Object v) {
        List<String> out = new java.util.ArrayList<>();
        for (Object o : members(v)) {
            out.add(o instanceof byte[] b ? new String(b, java.nio.charset.StandardCharsets.UTF_8) : String.valueOf(o));
        }
        return out;
    }

    static String path(Object o) {
        return o instanceof DBusPath p ? p.getPath() : String.valueOf(o);
    }

    static String[] names(List<String> units) {
        return units.toArray(new String[0]);
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            dropLocked();
        }
    }

    /** A future per job path; filled by {@link #onSignal} through the manager's listener. */
    static final class Jobs {
        private final Map<String, CompletableFuture<String>> byPath = new ConcurrentHashMap<>();
        private final Map<String, Integer> watched = new ConcurrentHashMap<>();

        void watch(String unit) {
            watched.merge(unit, 1, Integer::sum);
        }

        void unwatch(String unit) {
            watched.computeIfPresent(unit, (k, n) -> n <= 1 ? null : n - 1);
        }

        void ended(JobEnd end) {
            if (watched.containsKey(end.unit())) {
                byPath.computeIfAbsent(end.job(), k -> new CompletableFuture<>()).complete(end.result());
            }
        }

        CompletableFuture<String> future(String job) {
            return byPath.computeIfAbsent(job, k -> new CompletableFuture<>());
        }

        void forget(String job) {
            byPath.remove(job);
        }

        void cancelAll() {
            byPath.values().forEach(f -> f.completeExceptionally(new IOException("the systemd connection closed")));
            byPath.clear();
        }
    }
}
