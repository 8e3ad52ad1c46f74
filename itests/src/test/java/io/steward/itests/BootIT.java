package io.steward.itests;

import static org.junit.Assert.assertEquals;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class BootIT extends PlatformTestSupport {
    @Test
    public void apiBundleIsActive() {
        assertEquals(Bundle.ACTIVE, installedBundle("io.steward.api").getState());
    }
}
