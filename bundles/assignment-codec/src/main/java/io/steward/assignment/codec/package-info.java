/**
 * Assignment documents and the local override, parsed strictly with gson into the API's records
 * ({@link io.steward.assignment.codec.JsonAssignmentCodec}). Not exported: embedded privately by
 * {@code io.steward.core}, which provides it as the {@code AssignmentCodec} service.
 */
package io.steward.assignment.codec;
