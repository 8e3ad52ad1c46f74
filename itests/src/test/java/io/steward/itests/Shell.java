package io.steward.itests;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/** Runs Gogo commands the way a console does, through a {@link CommandProcessor} session. */
final class Shell {
    private Shell() {
    }

    /**
     * Runs one command line; returns what it printed followed by its formatted result.
     *
     * @throws AssertionError if no CommandProcessor is registered or the command throws
     */
    static String run(BundleContext context, String commandLine) {
        ServiceReference<CommandProcessor> ref = context.getServiceReference(CommandProcessor.class);
        if (ref == null) {
            throw new AssertionError("no Gogo CommandProcessor is registered");
        }
        CommandProcessor processor = context.getService(ref);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
                 PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
                 CommandSession session = processor.createSession(System.in,
                         outStream, errStream)) {
                Object result;
                try {
                    result = session.execute(commandLine);
                } catch (Exception e) {
                    throw new AssertionError("'" + commandLine + "' failed: " + e
                            + "; stderr: " + err.toString(StandardCharsets.UTF_8), e);
                }
                String formatted = result == null ? ""
                        : String.valueOf(session.format(result, Converter.INSPECT));
                String output = out.toString(StandardCharsets.UTF_8) + formatted;
                System.out.println("g! " + commandLine + "\n" + output); // kept in failsafe-reports/*-output.txt
                return output;
            }
        } finally {
            context.ungetService(ref);
        }
    }
}
