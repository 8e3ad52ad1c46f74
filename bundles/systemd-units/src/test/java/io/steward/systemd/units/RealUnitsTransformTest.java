package io.steward.systemd.units;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.units.RealUnits.Case;
import io.steward.systemd.units.RealUnits.UnitFile;
import io.steward.systemd.units.RealUnitsTest.Outcome;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The corpus test's own machinery, without systemd: the transformation of a shipped unit and the classifier. */
class RealUnitsTransformTest {
    private static String convert(String text) {
        UnitFile u = UnitFile.parse("p", "foo.service", text);
        return RealUnits.convert(u, Map.of("foo.service", "steward-foo.service", "bar.service", "steward-bar.service",
                "foo.timer", "steward-foo.timer"));
    }

    @Test
    void onlyProgramsAndOwnNamesChange() {
        String shipped = "# ExecStart=/usr/bin/commented\n[Unit]\nAfter=network.target bar.service\nWants=baz.service\n"
                + "[Service]\nType=forking\nEnvironmentFile=-/etc/default/foo\n"
                + "ExecStartPre=-/usr/sbin/foo -t -q -g 'daemon on; master_process on;'\n"
                + "ExecStart=!/usr/sbin/food $DAEMON_OPTS\n"
                + "ExecStartPost=@/bin/sh argv0 -c \"echo a\" ; +/bin/true x\n"
                + "ExecReload=/bin/kill -HUP $MAINPID\nExecStop=\n"
                + "ExecStopPost=/bin/sh -c \"one; \\\n  two\" \\\n  --tail\n"
                + "ExecCondition=find /x -name \"=*\"\n"
                + "[Install]\nWantedBy=multi-user.target\nAlias=food.service\n";
        String expected = "# ExecStart=/usr/bin/commented\n[Unit]\nAfter=network.target steward-bar.service\n"
                + "Wants=baz.service\n[Service]\nType=forking\nEnvironmentFile=-/etc/default/foo\n"
                + "ExecStartPre=-@ADDON_HOME@/standin-step -t -q -g 'daemon on; master_process on;'\n"
                + "ExecStart=!@ADDON_HOME@/standin $DAEMON_OPTS\n"
                + "ExecStartPost=@@ADDON_HOME@/standin-step argv0 -c \"echo a\" ; +@ADDON_HOME@/standin-step x\n"
                + "ExecReload=@ADDON_HOME@/standin-step -HUP $MAINPID\nExecStop=\n"
                + "ExecStopPost=@ADDON_HOME@/standin-step -c \"one; \\\n  two\" \\\n  --tail\n"
                + "ExecCondition=@ADDON_HOME@/standin-step /x -name \"=*\"\n"
                + "[Install]\nWantedBy=multi-user.target\nAlias=food.service\n";
        assertEquals(expected, convert(shipped));
    }

    @Test
    void aTimerAndItsServiceAreOneAddonAndTheRestServicesOfTheirOwn() {
        List<UnitFile> files = List.of(
                UnitFile.parse("p", "a.service", "[Service]\nType=oneshot\nExecStart=/bin/a\n"),
                UnitFile.parse("p", "a.timer", "[Timer]\nOnCalendar=daily\n"),
                UnitFile.parse("p", "b.timer", "[Timer]\nOnCalendar=daily\nUnit=c.service\n"),
                UnitFile.parse("p", "c.service", "[Service]\nExecStart=/bin/c\n"),
                UnitFile.parse("p", "d@x.service", "[Service]\nExecStart=/bin/d\n"));
        List<Case> cases = RealUnits.cases("p", files);
        assertEquals(List.of("a.timer + a.service", "b.timer + c.service", "d@x.service"),
                cases.stream().map(Case::label).toList());
        assertEquals(List.of("a", "b", "d-x"), cases.stream().map(Case::id).toList());
        assertEquals("[Timer]\nOnCalendar=daily\nUnit=steward-b.service\n",
                RealUnits.convert(files.get(2), cases.get(1).rename()));
        assertEquals("systemd_timer", cases.get(0).kind());
        assertEquals("oneshot", cases.get(0).service().orElseThrow().serviceType());
    }

    @Test
    void refusalsAreClassifiedByTheirTag() {
        assertEquals(Outcome.REFUSED, RealUnitsTest.classify(new SupervisionException(Disposition.PERMANENT,
                "add-on x: unit install refused: steward-x.service line 7: EnvironmentFile=-/etc/default/x lies "
                        + "outside @ADDON_HOME@ [rule: directive allowlist]")));
        assertEquals(Outcome.REFUSED_UNTAGGED, RealUnitsTest.classify(new SupervisionException(Disposition.PERMANENT,
                "add-on x: unit install refused: timer steward-x.timer starts ssh.service")));
        assertEquals(Outcome.REFUSED_UNKNOWN, RealUnitsTest.classify(new SupervisionException(Disposition.PERMANENT,
                "add-on x: unit install refused: whatever [rule: made up]")));
        assertEquals(Outcome.FAILED, RealUnitsTest.classify(new SupervisionException(Disposition.TRANSIENT,
                "add-on x: the job for steward-x.service ended failed (failed/failed, status 217)")));
        assertEquals(Outcome.FAILED, RealUnitsTest.classify(new SupervisionException(Disposition.PERMANENT,
                "add-on x: no artifact 1")));
        assertEquals("directive allowlist", RealUnitsTest.rule("… [rule: directive allowlist]").orElseThrow());
    }
}
