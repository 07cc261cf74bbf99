/**
 * The session's one-line notes on stderr (a pause, a warning): {@link note} from core, where
 * `compare` and `pretrain` share it.
 * @module
 */
export { note } from "../core/note.js";
