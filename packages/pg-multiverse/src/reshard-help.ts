// Help of the sharding commands: imported by the bin for `pgm --help` without loading pg.

/** The sharding commands the `pgm` binary of this package adds to the migration commands. */
export const RESHARD_COMMANDS = ['move', 'rebalance', 'recover-moves', 'cleanup-moves'] as const;

export const RESHARD_HELP = `Sharding commands (pg-multiverse):
  pgm move --cluster C --partitions 3,7 --to shard-2 [--keep-source] [--hold-timeout MS]
                                   move partitions to another listed shard, online (progress bar on a terminal)
  pgm rebalance --cluster C --servers shard-0,shard-1,shard-2 [--dry-run]
                                   spread the partitions evenly over the servers (dry run: print the plan)
  pgm recover-moves --cluster C    finish or roll back moves a crash interrupted
  pgm cleanup-moves --cluster C    delete rows that moves kept on their sources (--keep-source)
  Common: --config FILE, --json, --batch-size N (cleanup), --max-queued N, --cutover-attempts N,
          --cleanup-delay MS (wait before deleting moved rows from the source, default 15000)`;
