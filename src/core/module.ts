/**
 * The module contract. A module (access, IoT, indicators, cases…) is one folder that declares
 * what it adds to the hub; `src/server/` lists the modules and wires them. A module depends on
 * the kernel (core, store, broker) only, never on another module: modules talk through entities
 * and the change feed.
 */
import type { FastifyInstance } from 'fastify';
import type { ChangeConsumer } from './change-feed.js';

/** A schema change of a module, applied once, in version order within the module. */
export interface ModuleMigration {
  /** 1, 2, 3… within the module, without gaps. */
  version: number;
  name: string;
  sql: string;
}

/** Background work that runs on one hub instance at a time (taken over when that instance dies). */
export interface SingletonJob {
  /** Unique in the hub, `module.job`. */
  name: string;
  /** Runs until `signal` aborts; restarted after a failure by the kernel. */
  run(signal: AbortSignal): Promise<void>;
}

/** A `citypivot <name>` command of a module. */
export interface ModuleCommand {
  name: string;
  /** One line for `citypivot --help`. */
  summary: string;
  /** Its usage, options and examples, for `citypivot NAME --help`. */
  help: string;
  /** Runs it; resolves to the exit status (0 ok, 1 failure, 2 usage error). */
  run(args: string[]): Promise<number>;
}

/** What a running module adds to the hub. */
export interface HubModule {
  name: string;
  /** Registers its HTTP routes; each route names its access rule in `config.access`. */
  routes?(app: FastifyInstance): void | Promise<void>;
  /** Change-feed consumers, named `${module}.${purpose}`. */
  consumers?: ChangeConsumer[];
  /** Background work that must run on one instance only. */
  jobs?: SingletonJob[];
  /** Starts in-process work (after the HTTP server listens). */
  start?(): Promise<void>;
  /** Stops it; called in reverse order of start. */
  stop?(): Promise<void>;
}

/**
 * A module as the server lists it: what is known before the database opens (its migrations, its
 * commands) and how to build it on the kernel `K` the server hands it. `M` is what the module
 * gives back when the server needs more of it than routes and start/stop (the IoT service the
 * MQTT gateway drives, access's port); by default a plain {@link HubModule}.
 */
export interface ModuleDefinition<K, M extends HubModule = HubModule> {
  name: string;
  /** Its own migrations, namespaced by the module's name. */
  migrations?: ModuleMigration[];
  /** Its `citypivot` commands. */
  commands?: ModuleCommand[];
  /**
   * Its consumers and jobs keep derived indicators up to date (environment, transport): a hub
   * started with `--no-indicators` leaves them off; the module's routes (calculators) stay.
   */
  indicators?: boolean;
  create(kernel: K): M | Promise<M>;
}
