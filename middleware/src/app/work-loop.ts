// Runs a worker's runOnce() again and again: at once while it finds work, otherwise after an idle pause or as soon
// as something wakes it (a new job was queued). Errors are logged and the loop goes on after a pause.
import type { Logger } from 'pino';

export class WorkLoop {
  private stopped = true;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  lastError: string | null = null;

  constructor(
    private readonly name: string,
    private readonly runOnce: () => Promise<number>,
    private readonly options: { idleMs: number; errorPauseMs?: number; logger: Logger },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop();
  }

  /** Ask for a round now (new work was queued). */
  poke(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    this.running = null;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let pause = this.options.idleMs;
      try {
        const handled = await this.runOnce();
        this.lastError = null;
        if (handled > 0) pause = 0;
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        this.options.logger.error({ loop: this.name, err: this.lastError }, 'work loop round failed');
        pause = this.options.errorPauseMs ?? 1000;
      }
      if (pause > 0 && !this.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }
}
