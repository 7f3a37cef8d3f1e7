// Graceful stop for long-running commands: the first SIGINT/SIGTERM resolves (the command then cleans up), a
// second one exits at once, for an operator whose clean-up is stuck.
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) process.exit(130);
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
