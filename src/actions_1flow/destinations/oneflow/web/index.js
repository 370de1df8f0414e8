// Browser entry of the bundle: defines the global factory analytics-next calls (remotePlugins[].libraryName).
import { createPlugins, DESTINATION } from './plugin.js'

const actions1flowDestination = async (settings) => createPlugins(settings, window)
actions1flowDestination.pluginName = DESTINATION // lets an npm-bundled copy stand in for the remote script
window.actions1flowDestination = actions1flowDestination
