/**
 * @description Relays Contact opt-out changes to the OptOut_Change__e Platform Event. Change-event triggers run
 * asynchronously and do not count against the org's event-delivery allocation (CDC Developer Guide), which is why
 * the relay mode exists.
 */
trigger ContactOptOutRelay on ContactChangeEvent(after insert) {
    OptOutChangeEventHandler.handle(Trigger.new);
}
