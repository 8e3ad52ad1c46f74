package io.steward.systemd.unitfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.SupervisionException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The policy's rules, with a fake judge: paths under /open, /data and /tmp are "writable by others". */
class UnitPolicyTest {
    private static final AddonId ID = new AddonId("netprobe");
    private static final HostLayout LAYOUT = new HostLayout(Path.of("/data"), Path.of("/etc/steward"),
            Path.of("/etc/steward/trust"), Path.of("/etc/systemd/system"), Path.of("/usr/lib/steward/addons"));
    private static final Path HOME = Path.of("/usr/lib/steward/addons/netprobe/versions/abc");
    private static final PathJudge JUDGE = p -> p.startsWith("/open") || p.startsWith("/data") || p.startsWith("/tmp")
            ? Optional.of(p + " is writable by others") : Optional.empty();
    private static final String SERVICE = "steward-netprobe.service";

    private static Map<String, UnitPolicy.CheckedUnit> check(Map<String, String> units, String primary)
            throws SupervisionException {
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        units.forEach((k, v) -> bytes.put(k, v.getBytes(StandardCharsets.UTF_8)));
        UnitPolicy.Context ctx = new UnitPolicy.Context(ID, LAYOUT, HOME, units.keySet(), Set.of("steward", "999"),
                JUDGE);
        return UnitPolicy.check(ctx, bytes, primary);
    }

    private static UnitPolicy.CheckedUnit service(String text) throws SupervisionException {
        return check(Map.of(SERVICE, text), SERVICE).get(SERVICE);
    }

    private static String refused(String text) {
        return assertThrows(SupervisionException.class, () -> service(text)).getMessage();
    }

    private static void assertRule(String rule, String text) {
        String m = refused(text);
        assertTrue(m.contains("[rule: " + rule + "]"), m);
        assertTrue(m.startsWith("add-on netprobe: unit install refused: "), m);
    }

    @Test
    void aPlainServiceInstallsItsCanonicalFormWithHomeRenderedAndItsLinks() throws Exception {
        UnitPolicy.CheckedUnit u = service("[Unit]\nDescription=probe\nWants=network-online.target\n"
                + "After=network-online.target\n[Service]\nUser=nobody\nExecStart=@ADDON_HOME@/bin/probe --config "
                + "@ADDON_CONFIG@ --state=@ADDON_STATE@/db\nExecReload=/bin/kill -HUP $MAINPID\n"
                + "Environment=\"GREETING=a b\" LOG=info\n[Install]\nWantedBy=multi-user.target\n");
        assertEquals(List.of(new UnitPolicy.Link("multi-user.target", "wants")), u.links());
        assertTrue(u.canonical().contains("ExecStart=" + HOME + "/bin/probe --config /data/addons/netprobe/config.json"
                + " --state=/data/addons/netprobe/state/db\n"), u.canonical());
    }

    @Test
    void theSpoolRendersAndANonRootUnitMayPassItAsArgumentOrValue() throws Exception {
        UnitPolicy.CheckedUnit u = service("[Service]\nUser=nobody\nEnvironment=OUT=@ADDON_SPOOL@\n"
                + "ExecStart=@ADDON_HOME@/bin/probe --out=@ADDON_SPOOL@ ${OUT}/x\n");
        assertTrue(u.canonical().contains("ExecStart=" + HOME + "/bin/probe --out=/data/addons/netprobe/spool "
                + "${OUT}/x\n"), u.canonical());
        assertTrue(u.canonical().contains("Environment=OUT=/data/addons/netprobe/spool\n"), u.canonical());
    }

    @Test
    void theSpoolIsNeverRunLoadedSearchedOrReadByRoot() {
        assertRule("root-owned paths", "[Service]\nExecStart=@ADDON_HOME@/x --out @ADDON_SPOOL@\n");
        assertRule("root-owned paths", "[Service]\nUser=nobody\nExecStart=+@ADDON_HOME@/x @ADDON_SPOOL@/f\n");
        assertRule("root-owned paths", "[Service]\nUser=nobody\nExecStart=@ADDON_SPOOL@/evil\n");
        assertRule("root-owned paths", "[Service]\nDynamicUser=yes\nExecStartPre=@ADDON_SPOOL@/evil\n"
                + "ExecStart=@ADDON_HOME@/x\n");
        assertRule("root-owned paths", "[Service]\nUser=nobody\nWorkingDirectory=@ADDON_SPOOL@\n"
                + "ExecStart=@ADDON_HOME@/x\n");
        for (String v : List.of("LD_PRELOAD=@ADDON_SPOOL@/evil.so", "LD_LIBRARY_PATH=/usr/lib:@ADDON_SPOOL@",
                "PYTHONPATH=@ADDON_SPOOL@", "PERL5OPT=-I@ADDON_SPOOL@", "JAVA_TOOL_OPTIONS=-javaagent:@ADDON_SPOOL@/a.jar",
                "NODE_OPTIONS=--require=@ADDON_SPOOL@/e.js", "PERL5OPT=-I@ADDON_STATE@")) {
            assertRule("environment", "[Service]\nUser=nobody\nEnvironment=" + v + "\nExecStart=@ADDON_HOME@/x\n");
        }
    }

    @Test
    void rootUnitsMayNotReadWhatTheAgentWrites() {
        assertRule("root-owned paths", "[Service]\nExecStart=@ADDON_HOME@/x --config @ADDON_CONFIG@\n");
        assertRule("root-owned paths", "[Service]\nUser=nobody\nExecStart=+@ADDON_HOME@/x @ADDON_STATE@/f\n");
    }

    @Test
    void programsMustBeAbsoluteRootOwnedAndAlone() {
        assertRule("root-owned paths", "[Service]\nExecStart=/data/addons/netprobe/state/evil\n");
        assertRule("root-owned paths", "[Service]\nExecStartPre=-/open/evil\n");
        assertRule("root-owned paths", "[Service]\nExecStart=/bin/sh -c \"/tmp/evil\"\n");
        assertRule("root-owned paths", "[Service]\nExecStart=/usr/bin/env /tmp/evil\n");
        assertRule("root-owned paths", "[Service]\nExecStart=/bin/x --plugin=/open/p.so\n");
        assertRule("root-owned paths", "[Service]\nExecStart=@ADDON_HOME@/../../../../../data/evil\n");
        assertRule("root-owned paths", "[Service]\nExecStart=/bin/x ../../tmp/evil\n");
        assertRule("absolute programs", "[Service]\nExecStart=true\n");
        assertRule("absolute programs", "[Service]\nExecStart=/bin/true ; /tmp/evil\n");
        assertRule("absolute programs", "[Service]\nExecStart=/bin/true \";\" /bin/x\n");
        assertRule("root-owned paths", "[Service]\nExecStart=/bin/sh -c \"true;/tmp/evil\"\n");
        assertRule("directive allowlist", "[Service]\nExecStart=@/bin/x y\n");
        assertRule("directive allowlist", "[Service]\nExecSearchPath=/tmp\nExecStart=/bin/true\n");
        assertRule("whole-word quotes", "[Service]\nExecStart=/bin/x a\"b c\"\n");
        assertRule("whole-word quotes", "[Service]\nExecStart=\"/bin/x\"y\n");
        assertRule("known variables", "[Service]\nExecStart=/bin/x $HOME/evil\n");
        assertRule("known variables", "[Service]\nExecStart=/bin/sh -c 'exec $X'\n");
        assertRule("root-owned paths", "[Service]\nEnvironment=D=/open\nExecStart=/bin/x ${D}/evil\n");
        assertRule("root-owned paths", "[Service]\nEnvironment=P=/open/e\nExecStart=$P\n");
    }

    @Test
    void specifiersAreAllowlistedWhereTheyCouldNamePaths() throws Exception {
        assertRule("specifier allowlist", "[Service]\nExecStart=%T/evil\n");
        assertRule("specifier allowlist", "[Service]\nExecStart=/bin/x %\n");
        assertRule("specifier allowlist", "[Service]\nEnvironment=LD_PRELOAD=%S/e.so\nExecStart=/bin/true\n");
        service("[Unit]\nDescription=100% %T\n[Service]\nTasksMax=80%\nCPUQuota=20%\nExecStart=/bin/true %n\n");
    }

    @Test
    void flagsOfInterpreterFamiliesAreNotPaths() throws Exception {
        service("[Service]\nEnvironment=PYTHONNOUSERSITE=1 PYTHONUNBUFFERED=1\nExecStart=/usr/bin/python3\n");
        assertRule("environment", "[Service]\nEnvironment=PERL5OPT=-Mevil\nExecStart=/usr/bin/perl\n");
    }

    @Test
    void whatSystemdExpandsInNamesAndPathsHasNoSpecifierAndNoQuote() {
        // found by UnitParserAgreesWithSystemdTest: systemd reads User=root%i as root
        assertRule("specifier allowlist", "[Service]\nUser=root%i\nExecStart=/usr/bin/python3 @ADDON_STATE@/e.py\n");
        assertRule("specifier allowlist", "[Service]\nWorkingDirectory=/d%iata/x\nExecStart=/bin/true\n");
        assertRule("specifier allowlist", "[Service]\nPIDFile=/var/tmp%i/x.pid\nExecStart=/bin/true\n");
        assertRule("specifier allowlist", "[Service]\nStandardOutput=file:/var/tmp%i/x\nExecStart=/bin/true\n");
        assertRule("whole-word quotes", "[Unit]\nWants=\"network.target\"\n[Service]\nExecStart=/bin/true\n");
        assertRule("root-owned paths", "[Service]\nUser=\"root\"x\nExecStart=/bin/x @ADDON_STATE@/f\n".replace("\"root\"x", "00"));
    }

    @Test
    void prefixesAreThoseSystemdAccepts() {
        for (String p : List.of("--", "++", "!!!", "+!", "::", "- ", "-\t")) {
            assertRule("directive allowlist", "[Service]\nExecStart=" + p + "/bin/true\n");
        }
    }

    @Test
    void aSemicolonInsideAnArgumentIsAnArgument() throws Exception {
        service("[Service]\nExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'\n");
    }

    @Test
    void environmentIsCheckedEveryAssignment() {
        assertRule("root-owned paths", "[Service]\nEnvironment=LD_PRELOAD=/lib/libc.so.6 LD_PRELOAD=/open/e.so\n"
                + "ExecStart=/bin/true\n");
        assertRule("environment", "[Service]\nEnvironment=LD_PRELOAD=libevil.so\nExecStart=/bin/true\n");
        assertRule("root-owned paths", "[Service]\nEnvironment=LD_LIBRARY_PATH=/usr/lib;/open\nExecStart=/bin/true\n");
        assertRule("environment", "[Service]\nEnvironment=PATH=:/usr/bin\nExecStart=/bin/true\n");
        assertRule("root-owned paths", "[Service]\nEnvironment=BASH_ENV=/data/rc\nExecStart=/bin/bash -c true\n");
        assertRule("root-owned paths", "[Service]\nEnvironment=GCONV_PATH=/tmp/g\nExecStart=/bin/true\n");
        assertRule("environment", "[Service]\nEnvironment=SHELLOPTS=xtrace\nExecStart=/bin/true\n");
        assertRule("environment", "[Service]\nEnvironment=BASH_FUNC_x%%=y\nExecStart=/bin/true\n");
        assertRule("directive allowlist", "[Service]\nEnvironmentFile=/data/env\nExecStart=/bin/true\n");
        assertRule("directive allowlist", "[Service]\nPassEnvironment=LD_PRELOAD\nExecStart=/bin/true\n");
    }

    @Test
    void mountsCredentialsAndHostActionsAreRefused() {
        for (String d : List.of("RootDirectory=/data/r", "BindReadOnlyPaths=/data/e:/bin/true", "BindPaths=/a:/b",
                "TemporaryFileSystem=/x", "LoadCredential=a:/etc/shadow", "RootImage=/x.raw", "StateDirectory=ssh",
                "StateDirectory=steward-netprobe/../x", "StandardOutput=file:/tmp/x", "StandardOutput=tty",
                "StandardInput=tty", "PAMName=login", "Sockets=ssh.socket")) {
            assertTrue(refused("[Service]\n" + d + "\nExecStart=/bin/true\n").contains("[rule: "), d);
        }
        assertRule("directive allowlist", "[Unit]\nFailureAction=reboot\n[Service]\nExecStart=/bin/true\n");
        assertRule("directive allowlist", "[Unit]\nFoo=bar\n[Service]\nExecStart=/bin/true\n");
        assertRule("not the agent's user", "[Service]\nUser=steward\nExecStart=/bin/true\n");
        assertRule("not the agent's user", "[Service]\nGroup=999\nExecStart=/bin/true\n");
    }

    @Test
    void dependenciesAndInstallTargetsStayAtHome() {
        assertRule("own dependencies", "[Unit]\nWants=victim.service\n[Service]\nExecStart=/bin/true\n");
        assertRule("own dependencies", "[Unit]\nConflicts=ssh.service\n[Service]\nExecStart=/bin/true\n");
        assertRule("own dependencies", "[Unit]\nOnFailure=reboot.target\n[Service]\nExecStart=/bin/true\n");
        assertRule("install targets", "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=victim.service\n");
        assertRule("install targets", "[Service]\nExecStart=/bin/true\n[Install]\nAlias=ssh.service\n");
        assertRule("install targets", "[Service]\nExecStart=/bin/true\n[Install]\nAlso=victim.service\n");
    }

    @Test
    void timersStartOnlyTheirOwnService() throws Exception {
        String timer = "steward-netprobe.timer";
        Map<String, String> units = new LinkedHashMap<>();
        units.put(timer, "[Timer]\nOnCalendar=daily\n");
        units.put(SERVICE, "[Service]\nType=oneshot\nExecStart=/bin/true\n");
        assertEquals(Optional.of(SERVICE), check(units, timer).get(timer).triggers());
        units.put(timer, "[Timer]\nUnit=victim.service\nUnit=" + SERVICE + "\n");
        String m = assertThrows(SupervisionException.class, () -> check(units, timer)).getMessage();
        assertTrue(m.contains("steward-netprobe.timer line 3") && m.contains("[rule: own timer]"), m);
        units.put(timer, "[Timer]\nUnit=victim.service\n");
        assertTrue(assertThrows(SupervisionException.class, () -> check(units, timer)).getMessage()
                .contains("[rule: own timer]"));
    }

    @Test
    void namesFollowTheConventionAndSparesStewardsOwn() {
        assertTrue(UnitPolicy.isOwnedName(ID, "steward-netprobe-scan.service"));
        assertFalse(UnitPolicy.isOwnedName(ID, "ssh.service"));
        assertFalse(UnitPolicy.isOwnedName(new AddonId("updater"), "steward-updater.service"));
        assertFalse(UnitPolicy.isOwnedName(new AddonId("updater-x"), "steward-updater-x.service"));
        assertTrue(assertThrows(SupervisionException.class, () -> UnitPolicy.checkName(new AddonId("updater"),
                "steward-updater.service")).getMessage().contains("[rule: naming convention]"));
        assertEquals(UnitPolicy.claimKey(new AddonId("a")), UnitPolicy.claimKey(new AddonId("a-b")));
    }

    @Test
    void pathPiecesAreFoundInsideArguments() {
        assertEquals(List.of("/a", "/b/c", "/d"), UnitPolicy.pathPieces("--x=/a:/b/c,'/d'"));
        assertEquals(List.of(), UnitPolicy.pathPieces("a/b"));
    }
}
