/**
 * @description Keeps Opt_Out_Source__c true to opt-outs made in Salesforce (see OptOutSourceStamp).
 */
trigger LeadOptOutSource on Lead(before insert, before update) {
    OptOutSourceStamp.stamp(Trigger.new, Trigger.oldMap);
}
