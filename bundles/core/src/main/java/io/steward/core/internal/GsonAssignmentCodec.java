package io.steward.core.internal;

import io.steward.assignment.codec.JsonAssignmentCodec;
import io.steward.supervision.AssignmentCodec;
import org.osgi.service.component.annotations.Component;

/**
 * The {@link AssignmentCodec} service: {@link JsonAssignmentCodec} (bundles/assignment-codec, embedded). The
 * reconciler and the ledger use an instance of their own.
 */
@Component(service = AssignmentCodec.class)
public final class GsonAssignmentCodec extends JsonAssignmentCodec {
}
